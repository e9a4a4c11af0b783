import Testing
@testable import ProxyConfig

private let verifier =
    "SCRAM-SHA-256$4096:cGdzdGFzaC1kZW1vLXNsdA==$OGg6CxOWPnHINPBzSq9aLWg0s3+UlSKzXZ4LqPWTa8Q="
    + ":EKQIt8TZU1x3j4UmfrFyakkpxbTwaMRjGmkoSB9OmQ0="

@Suite struct AuthFileTests {
    @Test func parsesEveryKindOfSecret() throws {
        let text = #"""
            ; comment
            # another comment

            "app" "app"
              "say ""hi""" "pa ss"  
            "hashed" "md59a953b244ca2094e4dc11ae502d3ba00"
            "scram" "\#(verifier)"
            "empty" ""
            """#
        let entries = try AuthFile.parse(text: text, fileName: "userlist.txt")
        #expect(entries == [
            AuthFileEntry(user: "app", secret: "app", line: 4),
            AuthFileEntry(user: "say \"hi\"", secret: "pa ss", line: 5),
            AuthFileEntry(user: "hashed", secret: "md59a953b244ca2094e4dc11ae502d3ba00", line: 6),
            AuthFileEntry(user: "scram", secret: verifier, line: 7),
            AuthFileEntry(user: "empty", secret: "", line: 8),
        ])
        #expect(entries.map { AuthSecretKind(secret: $0.secret) } == [.plain, .plain, .md5, .scramSHA256, .plain])
    }

    @Test func secretKinds() {
        #expect(AuthSecretKind(secret: "md5xyz") == .plain)
        #expect(AuthSecretKind(secret: "md5" + String(repeating: "A", count: 32)) == .md5)
        #expect(AuthFile.isValidSCRAMVerifier(verifier))
        #expect(!AuthFile.isValidSCRAMVerifier("SCRAM-SHA-256$0:c2FsdA==$a:b"))
    }

    @Test func reportsEveryBadLineWithItsLine() {
        let text = #"""
            "ok" "pw"
            bare words
            "unterminated
            "user" secret
            "a" "b" trailing
            ""  "x"
            "bad" "SCRAM-SHA-256$4096:salt"
            "ok" "again"
            """#
        do {
            _ = try AuthFile.parse(text: text, fileName: "users.txt")
            Issue.record("expected errors")
        } catch {
            #expect(error.errors.map(\.line) == [2, 3, 4, 5, 6, 7, 8])
            #expect(error.errors.allSatisfy { $0.file == "users.txt" })
            #expect(error.errors[1].message == "missing closing quote after the user name")
            #expect(error.errors[6].description == "users.txt:8: duplicate user \"ok\" (first on line 1)")
            #expect(!error.description.contains("secret\n"))
        }
    }

    @Test func loaderReadsTheAuthFileRelativeToTheConfig() throws {
        let dir = try temporaryDirectory(["users.txt": "\"app\" \"app\"\n\"ops\" \"\(verifier)\"\n"])
        defer { removeDirectory(dir) }
        let config = try load("[databases.app]\n[auth]\nauth_file = \"users.txt\"", directory: dir)
        #expect(config.auth.authFile == "users.txt")
        #expect(config.auth.users == ["app": "app", "ops": verifier])
        let viaPath = try ConfigLoader.load(path: try writeConfig(dir, "[databases.app]\n[auth]\nauth_file = \"users.txt\""))
        #expect(viaPath.auth.users.count == 2)
    }

    @Test func authFileErrorsNameTheAuthFileAndItsLine() throws {
        let dir = try temporaryDirectory(["users.txt": "\"app\" \"app\"\n\n\"x\" y\n"])
        defer { removeDirectory(dir) }
        let found = errors("[databases.app]\n[auth]\nauth_file = \"users.txt\"\n[pool]\nmax_upstream = 0", directory: dir)
        #expect(found.map(\.description) == [
            "test.conf:5: pool.max_upstream must be at least 1, got 0",
            "\(dir)/users.txt:3: expected the secret of user \"x\" in double quotes after the user name",
        ])
    }

    @Test func unreadableAuthFile() {
        let found = errors("[databases.app]\n[auth]\nauth_file = \"/nonexistent/users.txt\"")
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.message == "auth.auth_file: cannot read /nonexistent/users.txt: No such file or directory")
    }

    @Test func md5HashCannotServeScram() throws {
        let dir = try temporaryDirectory(["u.txt": "\"a\" \"md59a953b244ca2094e4dc11ae502d3ba00\"\n"])
        defer { removeDirectory(dir) }
        let found = errors("[databases.app]\n[auth]\nauth_file = \"u.txt\"", directory: dir)
        #expect(found.map(\.line) == [1])
        #expect(found.first?.file == "\(dir)/u.txt")
        #expect(found.first?.message.contains("cannot verify scram-sha-256 logins") == true)
        let md5 = try load("[databases.app]\n[auth]\ntype = \"md5\"\nauth_file = \"u.txt\"", directory: dir)
        #expect(md5.auth.users["a"] == "md59a953b244ca2094e4dc11ae502d3ba00")
    }

    @Test func emptyAuthFile() throws {
        let dir = try temporaryDirectory(["u.txt": "; nobody yet\n"])
        defer { removeDirectory(dir) }
        let found = errors("[databases.app]\n[auth]\nauth_file = \"u.txt\"", directory: dir)
        #expect(found.map(\.line) == [3])
        #expect(found.first?.message.contains("defines no users") == true)
    }

    private func writeConfig(_ dir: String, _ text: String) throws -> String {
        let path = dir + "/proxy.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
