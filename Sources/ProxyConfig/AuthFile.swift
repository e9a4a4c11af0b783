/// One user of an auth file, with the line it is on.
public struct AuthFileEntry: Sendable, Equatable {
    public var user: String
    /// Stored as written: a plain password, `md5…` hash or `SCRAM-SHA-256$…` verifier.
    public var secret: String
    public var line: Int

    public init(user: String, secret: String, line: Int) {
        self.user = user
        self.secret = secret
        self.line = line
    }
}

/// What an auth-file secret is, which decides the logins it can verify.
public enum AuthSecretKind: Sendable, Equatable {
    /// A password in clear: verifies md5 and SCRAM logins, and can log in upstream.
    case plain
    /// `md5` + 32 hex digits of md5(password + user): verifies md5 logins only.
    case md5
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`: verifies SCRAM logins.
    case scramSHA256

    public init(secret: String) {
        if secret.hasPrefix("SCRAM-SHA-256$") {
            self = .scramSHA256
        } else if secret.utf8.count == 35, secret.hasPrefix("md5"), secret.dropFirst(3).allSatisfy(\.isHexDigit) {
            self = .md5
        } else {
            self = .plain
        }
    }
}

/// The users file named by `auth.auth_file`, in PgBouncer's userlist.txt format: one
/// `"username" "secret"` per line, `""` for a quote inside a field, blank lines and lines
/// starting with `;` or `#` ignored.
public enum AuthFile {
    /// Parses the text of an auth file; errors name `fileName` and their line.
    public static func parse(text: String, fileName: String) throws(ConfigErrors) -> [AuthFileEntry] {
        let (entries, errors) = parseCollecting(text: text, fileName: fileName)
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return entries
    }

    /// Whether `secret` is a well-formed SCRAM-SHA-256 verifier (RFC 5803 form, as stored
    /// in pg_authid.rolpassword).
    public static func isValidSCRAMVerifier(_ secret: String) -> Bool {
        guard secret.hasPrefix("SCRAM-SHA-256$") else { return false }
        let parts = secret.dropFirst("SCRAM-SHA-256$".count).split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let head = parts[0].split(separator: ":", omittingEmptySubsequences: false)
        let keys = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard head.count == 2, keys.count == 2, let iterations = Int(head[0]), iterations > 0,
            isBase64(head[1]), keys.allSatisfy({ $0.count == 44 && isBase64($0) })
        else { return false }
        return true
    }

    private static func isBase64(_ s: Substring) -> Bool {
        guard !s.isEmpty, s.count % 4 == 0 else { return false }
        let padding = s.reversed().prefix { $0 == "=" }.count
        return padding <= 2
            && s.dropLast(padding).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") }
    }

    /// All entries that parsed and every error, so the loader can report them with the rest.
    static func parseCollecting(text: String, fileName: String) -> ([AuthFileEntry], [ConfigError]) {
        var entries: [AuthFileEntry] = []
        var errors: [ConfigError] = []
        var firstLine: [String: Int] = [:]
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let fail = { (message: String) in
                errors.append(ConfigError(file: fileName, line: number, message: message))
            }
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix(";") || trimmed.hasPrefix("#") { continue }
            var rest = Substring(trimmed)
            guard rest.first == "\"" else {
                fail("expected \"username\" \"secret\" with both fields in double quotes")
                continue
            }
            guard let user = quoted(&rest) else {
                fail("missing closing quote after the user name")
                continue
            }
            rest = Substring(rest.trimmingSpaces())
            guard rest.first == "\"" else {
                fail("expected the secret of user \"\(user)\" in double quotes after the user name")
                continue
            }
            guard let secret = quoted(&rest) else {
                fail("missing closing quote after the secret of user \"\(user)\"")
                continue
            }
            guard rest.trimmingSpaces().isEmpty else {
                fail("unexpected text after the secret of user \"\(user)\"")
                continue
            }
            if user.isEmpty {
                fail("empty user name")
                continue
            }
            if secret.hasPrefix("SCRAM-SHA-256$"), !isValidSCRAMVerifier(secret) {
                fail("malformed SCRAM verifier for user \"\(user)\"; expected "
                    + "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")
                continue
            }
            if let first = firstLine[user] {
                fail("duplicate user \"\(user)\" (first on line \(first))")
                continue
            }
            firstLine[user] = number
            entries.append(AuthFileEntry(user: user, secret: secret, line: number))
        }
        return (entries, errors)
    }

    /// A `"…"` field at the start of `rest` (`""` inside is one quote); consumes it.
    private static func quoted(_ rest: inout Substring) -> String? {
        guard rest.first == "\"" else { return nil }
        var out = ""
        var i = rest.index(after: rest.startIndex)
        while i < rest.endIndex {
            let c = rest[i]
            let next = rest.index(after: i)
            if c == "\"" {
                if next < rest.endIndex, rest[next] == "\"" {
                    out.append("\"")
                    i = rest.index(after: next)
                    continue
                }
                rest = rest[next...]
                return out
            }
            out.append(c)
            i = next
        }
        return nil
    }
}
