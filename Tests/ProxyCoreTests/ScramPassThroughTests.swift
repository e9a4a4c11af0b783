import PostgresWire
import ProxyCore
import Testing

/// SCRAM pass-through (auth_query users): the ClientKey recovered from a client's proof logs
/// in upstream without the password. Expected values were computed independently (Python
/// hashlib/hmac from RFC 7677's password "pencil"), not by the code under test.
@Suite("SCRAM pass-through")
struct ScramPassThroughTests {
    /// HMAC(SaltedPassword("pencil", RFC salt, 4096), "Client Key").
    static let rfcClientKey = Crypto.unbase64("pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=")!
    /// The verifier PostgreSQL would store for "pencil" with the RFC salt.
    static let verifier = ScramKeys(verifier: "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")!

    @Test func clientKeyIsRecoveredFromTheRFCProof() throws {
        var server = ScramServer(keys: Self.verifier, serverNonce: ScramTests.serverNonce)
        _ = try server.clientFirstReceived(utf8("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        let (final, clientKey) = try server.clientFinalVerified(utf8(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
        #expect(text(final) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(clientKey == Self.rfcClientKey)
    }

    /// With the recovered key, the client side sends the very proof the password would give
    /// (ScramTests.clientProvesWhatTheRFCServerChecks) and checks the server with ServerKey.
    @Test func passThroughProvesWhatThePasswordWould() throws {
        let keys = ScramPassThroughKeys(keys: Self.verifier, clientKey: Self.rfcClientKey)
        var client = ScramClient(passThrough: keys, clientNonce: ScramTests.clientNonce)
        let final = try client.serverFirstReceived(utf8(ScramTests.serverFirst))
        #expect(text(final) == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=")
        try client.serverFinalReceived(utf8("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="))
        #expect(throws: ScramError.invalidServerSignature) {
            try client.serverFinalReceived(utf8("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
        }
    }

    /// Another salt or iteration count upstream is another verifier: the key cannot answer it.
    @Test func anotherVerifierUpstreamIsRefused() {
        let keys = ScramPassThroughKeys(keys: Self.verifier, clientKey: Self.rfcClientKey)
        for serverFirst in ["r=rOprNGfwEbeRWgbNEkqOxyz,s=QSXCR+Q6sek8bf92,i=4096",
                            "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=8192"] {
            var client = ScramClient(passThrough: keys, clientNonce: ScramTests.clientNonce)
            #expect(throws: ScramError.passThroughMismatch) { _ = try client.serverFirstReceived(utf8(serverFirst)) }
        }
    }

    /// Through ServerLogin: the upstream's other salt ends the login with 28P01, before any proof.
    @Test func serverLoginRefusesAnotherVerifier() {
        let keys = ScramPassThroughKeys(keys: Self.verifier, clientKey: Self.rfcClientKey)
        var login = ServerLogin(user: "alice", password: nil, passThrough: keys, database: "shop", clientNonce: "abc")
        guard case .send = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))) else {
            Issue.record("pass-through keys did not answer SCRAM"); return
        }
        guard case .fail(let state, let message) = login.messageReceived(.authentication(.saslContinue(utf8("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096")))) else {
            Issue.record("another salt was answered"); return
        }
        #expect(state == "28P01")
        #expect(message.contains("not the verifier pgstash looked up"))
    }

    static let carolKeys = ScramKeys(password: "s3cret", salt: Array(repeating: 7, count: 16), iterations: 4096)

    static func authenticator() -> ClientAuthenticator {
        ClientAuthenticator(type: .scramSHA256, user: "carol", credential: StoredCredential(md5Secret: nil, scramKeys: carolKeys),
                            nonce: "pgstashNonce", salt: [1, 2, 3, 4], mockKeys: carolKeys)
    }

    /// A SCRAM exchange of a client with `password` against `auth`: the authenticator's last action.
    static func clientLogin(_ auth: inout ClientAuthenticator, password: String) throws -> ClientAuthenticator.Action {
        var client = ScramClient(password: password, clientNonce: "cli")
        _ = auth.start()
        guard case .send(let first) = auth.passwordDataReceived(saslInitialBody("SCRAM-SHA-256", client.clientFirstMessage)),
              case .authentication(.saslContinue(let serverFirst)) = try backendMessage(first) else {
            throw ScramError.malformedMessage("no server-first")
        }
        return auth.passwordDataReceived(try client.serverFirstReceived(serverFirst))
    }

    /// The whole path: a client authenticates to pgstash, pgstash keeps what the authenticator
    /// recovered, and an upstream server holding the same verifier accepts pgstash's login.
    @Test func clientLoginThenUpstreamLoginWithTheRecoveredKey() throws {
        var auth = Self.authenticator()
        guard case .succeed = try Self.clientLogin(&auth, password: "s3cret") else {
            Issue.record("client refused"); return
        }
        let keys = Self.carolKeys
        let recovered = try #require(auth.passThrough)
        #expect(Crypto.sha256(recovered.clientKey) == keys.storedKey)

        // Upstream: PostgreSQL's side, played by ScramServer with the same verifier.
        var login = ServerLogin(user: "carol", password: nil, passThrough: recovered, database: "shop", clientNonce: "up")
        guard case .send(let initialFrame) = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))) else {
            Issue.record("no SASLInitialResponse"); return
        }
        let initial = body(of: initialFrame)
        let data = Array(initial[(initial.firstIndex(of: 0)! + 5)...])
        var upstream = ScramServer(keys: keys, serverNonce: "upstreamNonce")
        let upstreamFirst = try upstream.clientFirstReceived(data)
        guard case .send(let finalFrame) = login.messageReceived(.authentication(.saslContinue(upstreamFirst))) else {
            Issue.record("no client-final"); return
        }
        let upstreamFinal = try upstream.clientFinalReceived(body(of: finalFrame))
        #expect(login.messageReceived(.authentication(.saslFinal(upstreamFinal))) == .wait)
        ServerLoginTests.finish(&login)
    }

    /// A failed or md5 login recovers nothing.
    @Test func nothingIsRecoveredWithoutASCRAMSuccess() throws {
        var auth = Self.authenticator()
        #expect(try Self.clientLogin(&auth, password: "wrong") == .fail(sqlState: "28P01", message: "password authentication failed for user \"carol\""))
        #expect(auth.passThrough == nil)
    }
}

/// md5 pass-through: the stored hash verifies the client and answers the upstream's challenge.
@Suite("md5 pass-through")
struct MD5PassThroughTests {
    /// "md5" + md5("md5-pw" + "alice"), computed with Python's hashlib.
    static let hash = "md518b888cb30cb3837fc930d216d04af59"

    @Test func storedHashVerifiesTheClientAndLogsInUpstream() {
        #expect(MD5Password.storedHash(user: "alice", password: "md5-pw") == Self.hash)
        let salt: [UInt8] = [9, 8, 7, 6]
        var auth = ClientAuthenticator(type: .md5, user: "alice", credential: StoredCredential(secret: Self.hash, scram: true) { _ in
            Issue.record("an md5 hash derives no SCRAM keys"); return ScramTests.keys
        }, nonce: "n", salt: salt, mockKeys: ScramTests.keys)
        #expect(auth.start() == .send(BackendMessage.authentication(.md5Password(salt: salt)).encoded))
        let response = MD5Password.response(user: "alice", secret: "md5-pw", salt: salt)
        #expect(auth.passwordDataReceived(cString(response)) == .succeed(final: nil))

        // Upstream, with the hash only: the same answer the password gives.
        var login = ServerLogin(user: "alice", password: Self.hash, database: "shop", clientNonce: "up")
        let upstreamSalt: [UInt8] = [1, 1, 2, 3]
        #expect(login.messageReceived(.authentication(.md5Password(salt: upstreamSalt)))
                == .send(PasswordMessage(password: MD5Password.response(user: "alice", secret: "md5-pw", salt: upstreamSalt)).encoded))
        // A hash cannot answer a SCRAM request (it is not the verifier).
        var scram = ServerLogin(user: "alice", password: Self.hash, database: "shop", clientNonce: "up")
        guard case .fail(let state, _) = scram.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))) else {
            Issue.record("a hash answered SCRAM"); return
        }
        #expect(state == "28P01")
    }
}
