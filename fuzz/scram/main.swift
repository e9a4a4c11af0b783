// libFuzzer harness: the server side of SCRAM-SHA-256, driven through ClientAuthenticator
// as pgstash drives it: the SASLInitialResponse body (mechanism + client-first-message),
// then the SASLResponse body (client-final-message). Nothing here may trap, whatever the
// client sends; a failure must be an Action.fail.
//
// Input: byte 0 holds flags, bytes 1-2 the big-endian length L of part one, then part one
// (L bytes, or what is left), then part two.
//   bit 0 set: part one is the raw 'p' body (mechanism, Int32 length, data); clear: the
//              harness wraps it as SASLInitialResponse("SCRAM-SHA-256", part one).
//   bit 1 set: the user is unknown (mock keys, as for a name not in the auth file).
//   bit 2 set: in part two, "@N" becomes the combined nonce the server sent, "@C" the base64
//              of the gs2 header, and "@P" the correct proof for the text before ",p=": the
//              fuzzer reaches the nonce, binding and proof checks and the success path,
//              which it could not guess.
// ScramKeys(verifier:) also sees the whole input as text.
import Foundation
import PostgresWire
import ProxyConfig
import ProxyCore

private let password = Array("pencil".utf8)
private let salt = Array("fuzz-salt-16byte".utf8)
private let iterations = 2
private let salted = Crypto.pbkdf2SHA256(password: password, salt: salt, iterations: iterations)
private let clientKey = Crypto.hmacSHA256(key: salted, Array("Client Key".utf8))
private let keys = ScramKeys(password: "pencil", salt: salt, iterations: iterations)
private let mock = MockCredentials(secret: Array(repeating: 7, count: 32))
private let serverNonce = "3rfcNHYJY1ZVvWVs7j"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzScram(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    _ = ScramKeys(verifier: String(decoding: input, as: UTF8.self))
    guard size >= 3 else { return 0 }
    let flags = input[0]
    let length = Int(input[1]) << 8 | Int(input[2])
    let rest = input[3...]
    let cut = rest.index(rest.startIndex, offsetBy: min(length, rest.count))
    let partOne = Array(rest[..<cut]), partTwo = Array(rest[cut...])

    let unknown = flags & 2 != 0
    var auth = ClientAuthenticator(
        type: .scramSHA256, user: "fuzz",
        credential: unknown ? nil : StoredCredential(md5Secret: nil, scramKeys: keys),
        nonce: serverNonce, salt: salt, mockKeys: mock.scramKeys(for: "fuzz"))
    guard case .send = auth.start() else { fatalError("SCRAM did not start with a SASL request") }

    let initial = flags & 1 != 0 ? partOne
        : SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: partOne).encoded.dropFirst(5).map { $0 }
    let serverFirst: String
    switch auth.passwordDataReceived(initial) {
    case .send(let frame):
        guard case .authentication(.saslContinue(let reply))? = try? BackendMessage.decode(id: frame[0], body: frame.dropFirst(5)) else {
            fatalError("client-first-message answered with something other than SASLContinue")
        }
        serverFirst = String(decoding: reply, as: UTF8.self)
    case .fail:
        return 0
    case .succeed:
        fatalError("SCRAM succeeded after the client-first-message")
    }

    var final = String(decoding: partTwo, as: UTF8.self)
    if flags & 4 != 0 { final = substitute(final, serverFirst: serverFirst, initial: initial) }
    switch auth.passwordDataReceived(Array(final.utf8)) {
    case .succeed(let last):
        precondition(!unknown, "an unknown user logged in")
        precondition(last != nil, "SCRAM succeeded without a server-final-message")
    case .fail, .send:
        break
    }
    return 0
}

/// Fills in the placeholders of a client-final-message template (see the top of the file).
private func substitute(_ template: String, serverFirst: String, initial: [UInt8]) -> String {
    let nonce = serverFirst.split(separator: ",").first { $0.hasPrefix("r=") }.map { String($0.dropFirst(2)) } ?? ""
    var text = template.replacingOccurrences(of: "@N", with: nonce)
    let clientFirst = (try? SASLInitialResponse(passwordData: initial))?.data.map { String(decoding: $0, as: UTF8.self) } ?? ""
    let parts = clientFirst.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
    if parts.count == 3 {
        let gs2 = "\(parts[0]),\(parts[1]),"
        text = text.replacingOccurrences(of: "@C", with: Crypto.base64(Array(gs2.utf8)))
        if let proofAt = text.range(of: ",p=@P") {
            let withoutProof = String(text[..<proofAt.lowerBound])
            let authMessage = Array("\(parts[2]),\(serverFirst),\(withoutProof)".utf8)
            let signature = Crypto.hmacSHA256(key: keys.storedKey, authMessage)
            let proof = zip(clientKey, signature).map { $0 ^ $1 }
            text = text.replacingCharacters(in: proofAt, with: ",p=" + Crypto.base64(proof))
        }
    }
    return text
}
