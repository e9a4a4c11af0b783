import Foundation
import PostgresWire
import ProxyConfig
import ProxyCore
import Testing

/// The SCRAM fuzzer's corpus (fuzz/corpus/scram, see docs/fuzzing.md) replayed through
/// ClientAuthenticator: byte 0 holds flags, bytes 1-2 the length of part one (the
/// SASLInitialResponse body, or its client-first data when bit 0 is clear), then part two
/// (the client-final-message). The harness's placeholders ("@N", "@C", "@P") are not filled in
/// here, so those inputs stop at the nonce check; nothing may trap.
@Suite("Fuzz corpus replay: SCRAM")
struct ScramFuzzCorpusTests {
    static let salt = Array("fuzz-salt-16byte".utf8)
    static let keys = ScramKeys(password: "pencil", salt: salt, iterations: 2)
    static let mock = MockCredentials(secret: Array(repeating: 7, count: 32))

    @Test func scramCorpusFailsCleanly() throws {
        let inputs = try corpus("scram")
        #expect(!inputs.isEmpty)
        for input in inputs {
            _ = ScramKeys(verifier: String(decoding: input, as: UTF8.self))
            guard input.count >= 3 else { continue }
            let length = Int(input[1]) << 8 | Int(input[2])
            let rest = input[3...]
            let cut = rest.index(rest.startIndex, offsetBy: min(length, rest.count))
            let unknown = input[0] & 2 != 0
            var auth = ClientAuthenticator(
                type: .scramSHA256, user: "fuzz",
                credential: unknown ? nil : StoredCredential(md5Secret: nil, scramKeys: Self.keys),
                nonce: "3rfcNHYJY1ZVvWVs7j", salt: Self.salt, mockKeys: Self.mock.scramKeys(for: "fuzz"))
            _ = auth.start()
            let initial = input[0] & 1 != 0 ? Array(rest[..<cut])
                : Array(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: Array(rest[..<cut])).encoded.dropFirst(5))
            guard case .send = auth.passwordDataReceived(initial) else { continue }
            let final = auth.passwordDataReceived(Array(rest[cut...]))
            if case .succeed = final { Issue.record("a corpus input logged in without its placeholders filled") }
        }
    }
}

/// The files of fuzz/corpus/<harness>, found from this file's path.
func corpus(_ harness: String) throws -> [[UInt8]] {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    let dir = parts.joined(separator: "/") + "/fuzz/corpus/" + harness
    return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { name in
        Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
    }
}
