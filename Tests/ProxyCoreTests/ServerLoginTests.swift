import PostgresWire
import ProxyCore
import Testing

/// Traces of pgstash logging in to an upstream server: backend messages in, actions out.
@Suite("ServerLogin")
struct ServerLoginTests {
    static func login(password: String? = "pencil", user: String = "alice") -> ServerLogin {
        ServerLogin(user: user, password: password, database: "shop",
                    extraParameters: [("application_name", "pgstash"), ("DateStyle", "ISO")],
                    clientNonce: "pgstashClientNonce")
    }

    /// The tail every successful login ends with: AuthenticationOk, ParameterStatus…,
    /// BackendKeyData, ReadyForQuery.
    static func finish(_ login: inout ServerLogin) {
        #expect(login.messageReceived(.authentication(.ok)) == .wait)
        #expect(login.messageReceived(.parameterStatus(name: "server_version", value: "15.8")) == .wait)
        #expect(login.messageReceived(.noticeResponse(ErrorFields(severity: "NOTICE", sqlState: "00000", message: "hi"))) == .wait)
        #expect(login.messageReceived(.parameterStatus(name: "TimeZone", value: "UTC")) == .wait)
        #expect(login.messageReceived(.backendKeyData(processID: 4242, secretKey: -7)) == .wait)
        #expect(login.messageReceived(.readyForQuery(.idle))
                == .ready(parameters: ["server_version": "15.8", "TimeZone": "UTC"], processID: 4242, secretKey: -7))
    }

    @Test func startupPacketCarriesUserDatabaseAndExtras() throws {
        let packet = Self.login().startupPacket
        #expect(try StartupPacket.decode(packet[...]) == .startup(protocolVersion: StartupCode.protocol3, parameters: [
            ("user", "alice"), ("database", "shop"), ("application_name", "pgstash"), ("DateStyle", "ISO"),
        ]))
    }

    @Test func trustLogin() {
        var login = Self.login(password: nil)
        Self.finish(&login)
    }

    @Test func cleartextLogin() {
        var login = Self.login()
        // 'p', length 11, "pencil\0"
        #expect(login.messageReceived(.authentication(.cleartextPassword))
                == .send([0x70, 0, 0, 0, 11] + utf8("pencil") + [0]))
        Self.finish(&login)
    }

    @Test(arguments: ["pencil", "md5ee69efad287c7423caf0b3229d71f567"])   // plain, or the stored md5 hash
    func md5Login(password: String) {
        var login = Self.login(password: password)
        // md5(md5("pencilalice") + de ad be ef), computed with Python's hashlib.
        #expect(login.messageReceived(.authentication(.md5Password(salt: [0xDE, 0xAD, 0xBE, 0xEF])))
                == .send(PasswordMessage(password: "md589ac9dabb63a4f0b959fff1b8cff5d71").encoded))
        Self.finish(&login)
    }

    @Test func scramLoginAgainstAScramServer() throws {
        var login = Self.login()
        var server = ScramServer(keys: ScramKeys(password: "pencil", salt: Array(0..<16), iterations: 4096),
                                 serverNonce: "upstreamNonce")

        let initial = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])))
        #expect(initial == .send(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: utf8("n,,n=,r=pgstashClientNonce")).encoded))
        let serverFirst = try server.clientFirstReceived(utf8("n,,n=,r=pgstashClientNonce"))

        guard case .send(let responseFrame) = login.messageReceived(.authentication(.saslContinue(serverFirst))) else {
            Issue.record("expected a SASLResponse"); return
        }
        #expect(responseFrame.first == FrontendMessageID.password.rawValue)
        let serverFinal = try server.clientFinalReceived(body(of: responseFrame))   // throws if the proof is wrong

        #expect(login.messageReceived(.authentication(.saslFinal(serverFinal))) == .wait)
        Self.finish(&login)
    }

    @Test func scramServerSignatureMismatchFails() throws {
        var login = Self.login()
        var server = ScramServer(keys: ScramKeys(password: "pencil", salt: Array(0..<16), iterations: 4096),
                                 serverNonce: "upstreamNonce")
        _ = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        let serverFirst = try server.clientFirstReceived(utf8("n,,n=,r=pgstashClientNonce"))
        _ = login.messageReceived(.authentication(.saslContinue(serverFirst)))
        let forged = utf8("v=" + Crypto.base64([UInt8](repeating: 7, count: 32)))
        guard case .fail(let state, _) = login.messageReceived(.authentication(.saslFinal(forged))) else {
            Issue.record("a forged server signature must fail the login"); return
        }
        #expect(state == "28000")
    }

    /// SCRAM authenticates the server too (RFC 5802 §5: the client verifies ServerSignature);
    /// a server that says AuthenticationOk without SASLFinal has not proved it knows the
    /// password (a downgrade), so the login must not go on. libpq is lenient here unless
    /// `require_auth` is set; pgstash holds other people's sessions and should not be.
    @Test func authenticationOkBeforeSASLFinalFails() throws {
        var login = Self.login()
        var server = ScramServer(keys: ScramKeys(password: "pencil", salt: Array(0..<16), iterations: 4096),
                                 serverNonce: "upstreamNonce")
        _ = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        let serverFirst = try server.clientFirstReceived(utf8("n,,n=,r=pgstashClientNonce"))
        _ = login.messageReceived(.authentication(.saslContinue(serverFirst)))
        guard case .fail = login.messageReceived(.authentication(.ok)) else {
            Issue.record("AuthenticationOk before the server proved itself must fail the login"); return
        }
    }

    @Test func scramContinueWithoutSASLIsAProtocolViolation() {
        var login = Self.login()
        guard case .fail(let state, _) = login.messageReceived(.authentication(.saslContinue(utf8("r=x,s=AAAA,i=1")))) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "08P01")
    }

    @Test func scramContinueWithForeignNonceFails() {
        var login = Self.login()
        _ = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])))
        guard case .fail(let state, _) = login.messageReceived(.authentication(.saslContinue(utf8("r=otherNonce,s=AAAAAAAA,i=4096")))) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "08P01")
    }

    static let passwordRequests: [BackendMessage.Authentication] = [
        .cleartextPassword, .md5Password(salt: [1, 2, 3, 4]), .sasl(mechanisms: ["SCRAM-SHA-256"]),
    ]

    @Test(arguments: ServerLoginTests.passwordRequests)
    func noPasswordIsAClear28P01(_ request: BackendMessage.Authentication) {
        var login = Self.login(password: nil)
        guard case .fail(let state, let message) = login.messageReceived(.authentication(request)) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "28P01")
        #expect(message.contains("no password"))
        #expect(message.contains("\"alice\""))
    }

    /// A SCRAM verifier or md5 hash cannot answer SCRAM: pgstash needs the plain password.
    @Test(arguments: [ScramTests.postgresVerifier, "md5ee69efad287c7423caf0b3229d71f567"])
    func scramWithOnlyAHashIsA28P01(_ secret: String) {
        var login = Self.login(password: secret)
        guard case .fail(let state, _) = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"]))) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "28P01")
    }

    @Test func errorDuringLoginFailsWithTheServersSQLSTATE() {
        var login = Self.login()
        _ = login.messageReceived(.authentication(.cleartextPassword))
        let error = ErrorFields(severity: "FATAL", sqlState: "3D000", message: "database \"shop\" does not exist")
        #expect(login.messageReceived(.errorResponse(error))
                == .fail(sqlState: "3D000", message: "database \"shop\" does not exist"))
    }

    @Test func errorWithoutSQLSTATEStillFails() {
        var login = Self.login()
        let error = ErrorFields(fields: [(UInt8(ascii: "S"), "FATAL"), (UInt8(ascii: "M"), "too many connections")])
        guard case .fail(let state, let message) = login.messageReceived(.errorResponse(error)) else {
            Issue.record("expected failure"); return
        }
        #expect(state.count == 5)
        #expect(message == "too many connections")
    }

    static let unsupported: [BackendMessage.Authentication] = [.gss, .sspi, .kerberosV5, .gssContinue([1, 2])]

    @Test(arguments: ServerLoginTests.unsupported)
    func unsupportedMethodsAre28000(_ request: BackendMessage.Authentication) {
        var login = Self.login()
        guard case .fail(let state, _) = login.messageReceived(.authentication(request)) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "28000")
    }

    @Test func saslWithoutScramSHA256Is28000() {
        var login = Self.login()
        guard case .fail(let state, let message) = login.messageReceived(.authentication(.sasl(mechanisms: ["SCRAM-SHA-256-PLUS"]))) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "28000")
        #expect(message.contains("SCRAM-SHA-256-PLUS"))
    }

    @Test func unexpectedMessageIsAProtocolViolation() {
        var login = Self.login()
        guard case .fail(let state, _) = login.messageReceived(.dataRow([nil])) else {
            Issue.record("expected failure"); return
        }
        #expect(state == "08P01")
    }
}
