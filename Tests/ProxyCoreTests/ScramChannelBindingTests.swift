import ProxyCore
import Testing

/// SCRAM-SHA-256-PLUS with tls-server-end-point binding, server side, and PostgreSQL's
/// negotiation rules. The client's proof is computed here from RFC 5802's definitions.
@Suite("SCRAM-SHA-256-PLUS")
struct ScramChannelBindingTests {
    static let keys = ScramKeys(password: "pencil", salt: Array("saltsaltsalt".utf8), iterations: 4096)
    static let binding: [UInt8] = Crypto.sha256(Array("pgstash's certificate".utf8))
    static let header = "p=tls-server-end-point,,"

    /// The client-final message a client with `password` sends for `gs2Header` + `binding`.
    static func clientFinal(serverFirst: String, clientFirstBare: String, gs2Header: String, binding: [UInt8],
                            password: String = "pencil") -> String {
        let nonce = serverFirst.split(separator: ",")[0].dropFirst(2)
        let withoutProof = "c=\(Crypto.base64(Array(gs2Header.utf8) + binding)),r=\(nonce)"
        let salted = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: keys.salt, iterations: keys.iterations)
        let clientKey = Crypto.hmacSHA256(key: salted, Array("Client Key".utf8))
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = Crypto.hmacSHA256(key: Crypto.sha256(clientKey), authMessage)
        return "\(withoutProof),p=\(Crypto.base64(zip(clientKey, signature).map { $0 ^ $1 }))"
    }

    func exchange(plus: Bool, serverBinding: [UInt8]?, gs2Header: String, clientBinding: [UInt8]) throws -> [UInt8] {
        var server = ScramServer(keys: Self.keys, serverNonce: "srvnonce", channelBinding: serverBinding, plus: plus)
        let bare = "n=,r=clinonce"
        let first = String(decoding: try server.clientFirstReceived(Array((gs2Header + bare).utf8)), as: UTF8.self)
        let final = Self.clientFinal(serverFirst: first, clientFirstBare: bare, gs2Header: gs2Header, binding: clientBinding)
        return try server.clientFinalReceived(Array(final.utf8))
    }

    @Test func boundExchangeSucceeds() throws {
        let final = try exchange(plus: true, serverBinding: Self.binding, gs2Header: Self.header, clientBinding: Self.binding)
        #expect(String(decoding: final, as: UTF8.self).hasPrefix("v="))
    }

    @Test func bindingOfAnotherCertificateFails() {
        #expect(throws: ScramError.channelBindingMismatch) {
            try exchange(plus: true, serverBinding: Self.binding, gs2Header: Self.header,
                         clientBinding: Crypto.sha256(Array("a man in the middle".utf8)))
        }
    }

    @Test func plusWithoutBindingIsANegotiationError() {
        #expect(throws: ScramError.channelBindingRequired) {
            try exchange(plus: true, serverBinding: Self.binding, gs2Header: "n,,", clientBinding: [])
        }
    }

    @Test func downgradeIsDetected() {
        // "y": the client can bind but saw no PLUS, although this server offered it over TLS.
        #expect(throws: ScramError.channelBindingDowngrade) {
            try exchange(plus: false, serverBinding: Self.binding, gs2Header: "y,,", clientBinding: [])
        }
        // Without TLS there is nothing to bind: "y" is fine.
        #expect(throws: Never.self) { try exchange(plus: false, serverBinding: nil, gs2Header: "y,,", clientBinding: []) }
    }

    @Test func bindingWithoutTLSIsRefused() {
        #expect(throws: ScramError.channelBindingUnsupported) {
            try exchange(plus: false, serverBinding: nil, gs2Header: Self.header, clientBinding: Self.binding)
        }
    }

    @Test func authenticatorOffersPlusOnlyOverTLS() throws {
        func mechanisms(_ binding: [UInt8]?) -> ClientAuthenticator.Action {
            var auth = ClientAuthenticator(type: .scramSHA256, user: "alice",
                                           credential: StoredCredential(md5Secret: nil, scramKeys: Self.keys), nonce: "n", salt: [1, 2, 3, 4],
                                           mockKeys: Self.keys, channelBinding: binding)
            return auth.start()
        }
        guard case .send(let tls) = mechanisms(Self.binding), case .send(let plain) = mechanisms(nil) else {
            Issue.record("no SASL request"); return
        }
        #expect(String(decoding: tls, as: UTF8.self).contains("SCRAM-SHA-256-PLUS"))
        #expect(!String(decoding: plain, as: UTF8.self).contains("PLUS"))
    }
}
