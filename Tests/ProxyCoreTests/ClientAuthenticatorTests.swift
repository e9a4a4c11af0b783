import PostgresWire
import ProxyConfig
import ProxyCore
import Testing

/// Traces of a client logging in to pgstash: the authenticator's requests out, the client's
/// 'p' message bodies in.
@Suite("ClientAuthenticator")
struct ClientAuthenticatorTests {
    static let salt: [UInt8] = Array(1...16)
    static let nonce = "pgstashServerNonce"
    /// AuthenticationMD5Password with salt 01 02 03 04, byte for byte.
    static let md5Request: [UInt8] = [0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]
    /// AuthenticationSASL offering SCRAM-SHA-256, byte for byte.
    static let saslRequest: [UInt8] = [0x52, 0, 0, 0, 23, 0, 0, 0, 10] + utf8("SCRAM-SHA-256") + [0, 0]
    static let pgVerifier = ScramTests.postgresVerifier   // password "pencil"

    static let mock = MockCredentials(secret: Array(repeating: 7, count: 32))

    /// An authenticator for `user`, whose auth-file secret is `secret` (nil: not in the file).
    /// A plain password's SCRAM keys are derived here, as `CredentialStore` does at load.
    static func authenticator(_ type: AuthType, secret: String?, user: String = "alice") -> ClientAuthenticator {
        let credential = secret.map { StoredCredential(secret: $0, scram: type == .scramSHA256) { CredentialStore.pbkdf2($0, salt) } }
        return ClientAuthenticator(type: type, user: user, credential: credential, nonce: nonce, salt: salt,
                                   mockKeys: mock.scramKeys(for: user))
    }

    static func failed(_ user: String = "alice") -> ClientAuthenticator.Action {
        .fail(sqlState: "28P01", message: "password authentication failed for user \"\(user)\"")
    }

    // MARK: trust and md5

    @Test func trustSucceedsAtOnce() {
        var auth = Self.authenticator(.trust, secret: nil)
        #expect(auth.start() == .succeed(final: nil))
    }

    @Test(arguments: ["pencil", "md5ee69efad287c7423caf0b3229d71f567"])   // plain, or pg_authid's md5 hash
    func md5Succeeds(secret: String) {
        var auth = Self.authenticator(.md5, secret: secret)
        #expect(auth.start() == .send(Self.md5Request))
        // md5(md5("pencilalice") + 01 02 03 04), as libpq sends it.
        let response = MD5Password.response(user: "alice", secret: "pencil", salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(response)) == .succeed(final: nil))
    }

    @Test func md5WrongPasswordFailsWith28P01() {
        var auth = Self.authenticator(.md5, secret: "pencil")
        #expect(auth.start() == .send(Self.md5Request))
        let response = MD5Password.response(user: "alice", secret: "pencil2", salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(response)) == Self.failed())
    }

    @Test func md5ResponseForAnotherUserFails() {
        var auth = Self.authenticator(.md5, secret: "pencil")
        _ = auth.start()
        let response = MD5Password.response(user: "bob", secret: "pencil", salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(response)) == Self.failed())
    }

    @Test func md5UnknownUserFailsAfterTheExchange() {
        var auth = Self.authenticator(.md5, secret: nil)
        #expect(auth.start() == .send(Self.md5Request))   // same request as for a known user
        let response = MD5Password.response(user: "alice", secret: "anything", salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(response)) == Self.failed())
    }

    @Test func scramTypeWithOnlyAnMD5HashFallsBackToMD5() {
        var auth = Self.authenticator(.scramSHA256, secret: "md5ee69efad287c7423caf0b3229d71f567")
        #expect(auth.start() == .send(Self.md5Request))
        let response = MD5Password.response(user: "alice", secret: "pencil", salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(response)) == .succeed(final: nil))
    }

    // MARK: SCRAM

    /// One SCRAM client login: SASLInitialResponse, SASLResponse; returns the last action
    /// and the client (to check the server signature).
    static func scramLogin(_ auth: inout ClientAuthenticator, password: String,
                           mechanism: String = "SCRAM-SHA-256") throws -> (ClientAuthenticator.Action, ScramClient) {
        #expect(auth.start() == .send(saslRequest))
        var client = ScramClient(password: password, clientNonce: "libpqClientNonce")
        let cont = auth.passwordDataReceived(saslInitialBody(mechanism, client.clientFirstMessage))
        guard case .send(let frame) = cont else { return (cont, client) }
        guard case .authentication(.saslContinue(let serverFirst)) = try backendMessage(frame) else {
            Issue.record("expected AuthenticationSASLContinue, got \(frame)")
            return (cont, client)
        }
        #expect(text(serverFirst).hasPrefix("r=libpqClientNonce\(nonce),s="))
        let clientFinal = try client.serverFirstReceived(serverFirst)
        return (auth.passwordDataReceived(clientFinal), client)
    }

    @Test(arguments: [
        (AuthType.scramSHA256, "pencil"),
        (AuthType.scramSHA256, ScramTests.postgresVerifier),
        (AuthType.md5, ScramTests.postgresVerifier),          // md5 configured, but only a verifier is known: SCRAM
    ])
    func scramSucceeds(type: AuthType, secret: String) throws {
        var auth = Self.authenticator(type, secret: secret)
        let (last, client) = try Self.scramLogin(&auth, password: "pencil")
        guard case .succeed(let final?) = last, case .authentication(.saslFinal(let v)) = try backendMessage(final) else {
            Issue.record("expected success with AuthenticationSASLFinal, got \(last)")
            return
        }
        try client.serverFinalReceived(v)
    }

    @Test(arguments: ["pencil", ScramTests.postgresVerifier])
    func scramWrongPasswordFailsWith28P01(secret: String) throws {
        var auth = Self.authenticator(.scramSHA256, secret: secret)
        let (last, _) = try Self.scramLogin(&auth, password: "pencil2")
        #expect(last == Self.failed())
    }

    @Test func scramPlainSecretUsesTheSaltItsKeysWereDerivedWith() throws {
        var auth = Self.authenticator(.scramSHA256, secret: "pencil")
        _ = auth.start()
        let client = ScramClient(password: "pencil", clientNonce: "n0nce")
        guard case .send(let frame) = auth.passwordDataReceived(saslInitialBody("SCRAM-SHA-256", client.clientFirstMessage)),
              case .authentication(.saslContinue(let serverFirst)) = try backendMessage(frame) else {
            Issue.record("expected AuthenticationSASLContinue"); return
        }
        #expect(text(serverFirst) == "r=n0nce\(Self.nonce),s=\(Crypto.base64(Self.salt)),i=4096")
    }

    /// An unknown user goes through the whole exchange and is refused only at the end, with
    /// the same error as a wrong password, whatever password it tries, even the nonce.
    @Test(arguments: ["pencil", "", ClientAuthenticatorTests.nonce])
    func scramUnknownUserFailsAfterAFullExchange(password: String) throws {
        var auth = Self.authenticator(.scramSHA256, secret: nil, user: "mallory")
        let (last, _) = try Self.scramLogin(&auth, password: password)
        #expect(last == Self.failed("mallory"))
    }

    /// The salt in server-first of a user with a stored verifier is the same on every login;
    /// if an unknown user's salt changed from login to login, two attempts would tell which
    /// user names exist. PostgreSQL derives the mock salt from the user name (scram_mock_salt).
    @Test func unknownUserGetsTheSameSaltOnEveryLogin() throws {
        func serverFirstSalt(_ salt: [UInt8]) throws -> String? {
            var auth = ClientAuthenticator(type: .scramSHA256, user: "mallory", credential: nil, nonce: Self.nonce,
                                           salt: salt, mockKeys: Self.mock.scramKeys(for: "mallory"))
            _ = auth.start()
            let client = ScramClient(password: "x", clientNonce: "c")
            guard case .send(let frame) = auth.passwordDataReceived(saslInitialBody("SCRAM-SHA-256", client.clientFirstMessage)),
                  case .authentication(.saslContinue(let first)) = try backendMessage(frame) else { return nil }
            return text(first).split(separator: ",").first { $0.hasPrefix("s=") }.map(String.init)
        }
        let a = try serverFirstSalt(Array(1...16)), b = try serverFirstSalt(Array(101...116))
        #expect(a != nil)
        #expect(a == b)
    }

    @Test(arguments: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "PLAIN"])
    func wrongMechanismIsRefused(mechanism: String) throws {
        var auth = Self.authenticator(.scramSHA256, secret: "pencil")
        let (last, _) = try Self.scramLogin(&auth, password: "pencil", mechanism: mechanism)
        guard case .fail(let state, let message) = last else {
            Issue.record("expected failure, got \(last)"); return
        }
        #expect(state == "28000" || state == "08P01")
        #expect(message.contains(mechanism))
    }

    static let malformedInitial: [[UInt8]] = [
        utf8("SCRAM-SHA-256"),                                                   // no NUL
        utf8("SCRAM-SHA-256") + [0, 0, 0],                                        // short length word
        utf8("SCRAM-SHA-256") + [0, 0, 0, 0, 10] + utf8("n,,n=,r=x"),              // length says 10, 9 follow
        utf8("SCRAM-SHA-256") + [0, 0, 0, 0, 8] + utf8("n,,n=,r=xy"),              // trailing bytes
        utf8("SCRAM-SHA-256") + [0, 0, 0, 0, 9] + utf8("x,,n=,r=a"),               // no gs2 header
        utf8("SCRAM-SHA-256") + [0, 0, 0, 0, 7] + utf8("n,,n=,r"),                 // no nonce
        utf8("SCRAM-SHA-256") + [0, 0xFF, 0xFF, 0xFF, 0xFF],                        // no initial response
    ]

    @Test(arguments: ClientAuthenticatorTests.malformedInitial)
    func malformedSASLInitialResponseIs08P01(_ data: [UInt8]) {
        var auth = Self.authenticator(.scramSHA256, secret: "pencil")
        #expect(auth.start() == .send(Self.saslRequest))
        guard case .fail(let state, _) = auth.passwordDataReceived(data) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "08P01")
    }

    @Test(arguments: [
        "c=biws,r=libpqClientNoncepgstashServerNonce",                    // no proof
        "c=biws,r=libpqClientNoncepgstashServerNonce,p=AAAA",             // proof too short
        "garbage",
    ])
    func malformedSASLResponseIs08P01(_ final: String) throws {
        var auth = Self.authenticator(.scramSHA256, secret: "pencil")
        _ = auth.start()
        let client = ScramClient(password: "pencil", clientNonce: "libpqClientNonce")
        guard case .send = auth.passwordDataReceived(saslInitialBody("SCRAM-SHA-256", client.clientFirstMessage)) else {
            Issue.record("expected AuthenticationSASLContinue"); return
        }
        guard case .fail(let state, _) = auth.passwordDataReceived(utf8(final)) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "08P01")
    }

    @Test func passwordMessageAfterTheExchangeIs08P01() {
        var auth = Self.authenticator(.trust, secret: nil)
        _ = auth.start()
        #expect(auth.passwordDataReceived(cString("pencil")) == .fail(sqlState: "08P01", message: "unexpected password message"))
    }

    @Test func passwordMessageBeforeStartIs08P01() {
        var auth = Self.authenticator(.md5, secret: "pencil")
        #expect(auth.passwordDataReceived(cString("pencil")) == .fail(sqlState: "08P01", message: "unexpected password message"))
    }
}
