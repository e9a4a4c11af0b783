import ProxyCore
import Testing

/// RFC 7677 §3 test vector, and PostgreSQL's variant of it (empty user name in client-first).
/// Expected values were computed independently (Python hashlib/hmac), not by the code under test.
@Suite("SCRAM-SHA-256")
struct ScramTests {
    static let salt = Crypto.unbase64("W22ZaJ0SNY7soEsUEjb6gQ==")!
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let combinedNonce = clientNonce + serverNonce
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let keys = ScramKeys(password: "pencil", salt: salt, iterations: 4096)

    // MARK: RFC 7677 vector

    @Test func serverAcceptsTheRFCExchange() throws {
        var server = ScramServer(keys: Self.keys, serverNonce: Self.serverNonce)
        let first = try server.clientFirstReceived(utf8("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        #expect(text(first) == Self.serverFirst)
        let final = try server.clientFinalReceived(utf8(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
        #expect(text(final) == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func keysFromPasswordMatchTheRFCSaltedPassword() {
        // StoredKey/ServerKey of "pencil" with the RFC salt, as PostgreSQL would store them.
        #expect(Self.keys.verifier == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    }

    /// ScramClient always sends "n,,n=,r=…" (PostgreSQL ignores the SCRAM user name), so its
    /// AuthMessage differs from the RFC's: the proof and server signature below are what the
    /// RFC's server computes for client-first-bare "n=,r=rOprNGfwEbeRWgbNEkqO".
    @Test func clientProvesWhatTheRFCServerChecks() throws {
        var client = ScramClient(password: "pencil", clientNonce: Self.clientNonce)
        #expect(text(client.clientFirstMessage) == "n,,n=,r=rOprNGfwEbeRWgbNEkqO")
        let final = try client.serverFirstReceived(utf8(Self.serverFirst))
        #expect(text(final) == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=")
        try client.serverFinalReceived(utf8("v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="))
        // The RFC's own signature belongs to a different AuthMessage ("n=user").
        #expect(throws: ScramError.invalidServerSignature) {
            try client.serverFinalReceived(utf8("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
        }
    }

    // MARK: Round trips and failures

    /// Runs a whole exchange: client with `password` against a server with `keys`.
    func exchange(password: String, keys: ScramKeys, tamper: (String) -> String = { $0 }) throws -> (ScramClient, [UInt8]) {
        var client = ScramClient(password: password, clientNonce: "clientNONCE123")
        var server = ScramServer(keys: keys, serverNonce: "serverNONCE456")
        let serverFirst = try server.clientFirstReceived(client.clientFirstMessage)
        #expect(text(serverFirst).hasPrefix("r=clientNONCE123serverNONCE456,s="))
        let clientFinal = try client.serverFirstReceived(serverFirst)
        let serverFinal = try server.clientFinalReceived(utf8(tamper(text(clientFinal))))
        return (client, serverFinal)
    }

    @Test func clientAndServerRoundTrip() throws {
        let keys = ScramKeys(password: "s3cr3t ünïcode", salt: Array(0..<16), iterations: 4096)
        let (client, serverFinal) = try exchange(password: "s3cr3t ünïcode", keys: keys)
        try client.serverFinalReceived(serverFinal)
    }

    @Test func wrongPasswordIsInvalidProof() {
        let keys = ScramKeys(password: "right", salt: Array(0..<16), iterations: 4096)
        #expect(throws: ScramError.invalidProof) { _ = try exchange(password: "wrong", keys: keys) }
    }

    @Test func tamperedNonceIsNonceMismatch() {
        let keys = ScramKeys(password: "right", salt: Array(0..<16), iterations: 4096)
        #expect(throws: ScramError.nonceMismatch) {
            _ = try exchange(password: "right", keys: keys) {
                $0.replacingOccurrences(of: "serverNONCE456", with: "serverNONCE457")
            }
        }
    }

    @Test func tamperedChannelBindingIsRefused() {
        let keys = ScramKeys(password: "right", salt: Array(0..<16), iterations: 4096)
        #expect(throws: ScramError.channelBindingUnsupported) {
            _ = try exchange(password: "right", keys: keys) { $0.replacingOccurrences(of: "c=biws", with: "c=eSws") }
        }
    }

    @Test func clientRejectsAServerNonceThatDoesNotExtendItsOwn() {
        var client = ScramClient(password: "pencil", clientNonce: Self.clientNonce)
        #expect(throws: ScramError.malformedMessage("server-first-message is malformed")) {
            _ = try client.serverFirstReceived(utf8("r=someoneElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
        }
    }

    @Test(arguments: [
        "r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",                       // no salt
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",   // no iterations
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=@@@,i=4096",
        "",
    ])
    func clientRejectsMalformedServerFirst(_ message: String) {
        var client = ScramClient(password: "pencil", clientNonce: Self.clientNonce)
        #expect(throws: ScramError.self) { _ = try client.serverFirstReceived(utf8(message)) }
    }

    @Test func serverRefusesChannelBindingRequests() {
        var server = ScramServer(keys: Self.keys, serverNonce: Self.serverNonce)
        #expect(throws: ScramError.channelBindingUnsupported) {
            _ = try server.clientFirstReceived(utf8("p=tls-server-end-point,,n=,r=abc"))
        }
    }

    @Test(arguments: ["", "x,,n=,r=abc", "n,,n=,r=", "n,,n=user", "n,,"])
    func serverRejectsMalformedClientFirst(_ message: String) {
        var server = ScramServer(keys: Self.keys, serverNonce: Self.serverNonce)
        #expect(throws: ScramError.self) { _ = try server.clientFirstReceived(utf8(message)) }
    }

    @Test(arguments: [
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",            // no proof
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",     // short proof
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", // no c=
        "c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",                  // no r=
    ])
    func serverRejectsMalformedClientFinal(_ message: String) throws {
        var server = ScramServer(keys: Self.keys, serverNonce: Self.serverNonce)
        _ = try server.clientFirstReceived(utf8("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        #expect(throws: ScramError.self) { _ = try server.clientFinalReceived(utf8(message)) }
    }

    // MARK: Verifiers

    /// Made by PostgreSQL 15 itself: `SET password_encryption = 'scram-sha-256';
    /// CREATE ROLE … PASSWORD 'pencil'`, then `SELECT rolpassword FROM pg_authid`.
    static let postgresVerifier = "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==$5eFS2Oa0Iqf7uwVo7QRdnPGjmFDKSLQ6OJG0fP9ntwU=:Ga0UKz2FehKyRcffvmwQPzQmCrhODhZmoNfu/mYXNhc="

    @Test func postgresVerifierParsesAndPrintsBack() throws {
        let keys = try #require(ScramKeys(verifier: Self.postgresVerifier))
        #expect(keys.iterations == 4096)
        #expect(keys.salt == Crypto.unbase64("khUCA39afFcfL47SPP7anw==")!)
        #expect(keys.verifier == Self.postgresVerifier)
        #expect(keys == ScramKeys(password: "pencil", salt: keys.salt, iterations: 4096))
    }

    @Test func postgresVerifierAuthenticatesItsPassword() throws {
        let keys = try #require(ScramKeys(verifier: Self.postgresVerifier))
        let (client, serverFinal) = try exchange(password: "pencil", keys: keys)
        try client.serverFinalReceived(serverFinal)
        #expect(throws: ScramError.invalidProof) { _ = try exchange(password: "pencil2", keys: keys) }
    }

    static let key32 = "5eFS2Oa0Iqf7uwVo7QRdnPGjmFDKSLQ6OJG0fP9ntwU="
    @Test(arguments: [
        "",
        "md56075a92d7b57d336c40304e09cb7fc28",
        "SCRAM-SHA-256$",
        "SCRAM-SHA-1$4096:khUCA39afFcfL47SPP7anw==$\(key32):\(key32)",
        "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==$\(key32)",                 // no ServerKey
        "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==:\(key32):\(key32)",        // no '$'
        "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==$\(key32):\(key32)$x",      // extra part
        "SCRAM-SHA-256$0:khUCA39afFcfL47SPP7anw==$\(key32):\(key32)",           // zero iterations
        "SCRAM-SHA-256$-1:khUCA39afFcfL47SPP7anw==$\(key32):\(key32)",
        "SCRAM-SHA-256$many:khUCA39afFcfL47SPP7anw==$\(key32):\(key32)",
        "SCRAM-SHA-256$4096$\(key32):\(key32)",                                 // no salt
        "SCRAM-SHA-256$4096:not base64!$\(key32):\(key32)",
        "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==$khUCA39afFcfL47SPP7anw==:\(key32)", // 16-byte StoredKey
        "SCRAM-SHA-256$4096:khUCA39afFcfL47SPP7anw==$\(key32):%%%%",
    ])
    func malformedVerifiersAreRejected(_ verifier: String) {
        #expect(ScramKeys(verifier: verifier) == nil)
    }
}
