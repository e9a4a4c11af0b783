import PostgresWire

/// Logs pgstash in to an upstream PostgreSQL server: sends the StartupMessage, answers
/// cleartext, md5 or SCRAM-SHA-256 requests, and collects ParameterStatus and BackendKeyData
/// until the first ReadyForQuery.
public struct ServerLogin: Sendable {
    public enum Action: Equatable, Sendable {
        /// Send these bytes to the server.
        case send([UInt8])
        /// Keep reading.
        case wait
        /// Logged in: the server's parameters and its cancel key.
        case ready(parameters: [String: String], processID: Int32, secretKey: Int32)
        /// Login failed with this SQLSTATE and message (the server's own words when it sent them).
        case fail(sqlState: String, message: String)
    }

    public let user: String
    let password: String?
    /// A client's recovered SCRAM keys (auth_query users): answers SCRAM without a password.
    let passThrough: ScramPassThroughKeys?
    let startupParameters: [(String, String)]
    let clientNonce: String
    private var scram: ScramClient?
    private var scramVerified = false
    private var parameters: [String: String] = [:]
    private var key: (Int32, Int32) = (0, 0)

    /// `password`: plain, or an `md5…` hash (answers md5 requests only). `passThrough`: keys
    /// that answer SCRAM requests when there is no plain password.
    public init(user: String, password: String?, passThrough: ScramPassThroughKeys? = nil, database: String,
                extraParameters: [(String, String)] = [], clientNonce: String) {
        self.user = user
        self.password = password
        self.passThrough = passThrough
        self.startupParameters = [("user", user), ("database", database)] + extraParameters
        self.clientNonce = clientNonce
    }

    public var startupPacket: [UInt8] {
        var b = ByteBuffer()
        StartupPacket.startup(protocolVersion: StartupCode.protocol3, parameters: startupParameters).encode(into: &b)
        return Array(b.readableView)
    }

    private func needPassword(_ method: String) -> Action {
        .fail(sqlState: "28P01", message: "upstream server asked for \(method) authentication of user \"\(user)\" but pgstash has no password for it (set databases.NAME.password or the user's plain password in auth_file)")
    }

    public mutating func messageReceived(_ message: BackendMessage) -> Action {
        switch message {
        case .authentication(let a):
            switch a {
            case .ok:
                // A server that skips SASLFinal never proved it knows the password.
                if scram != nil && !scramVerified {
                    return .fail(sqlState: "28000", message: "upstream server ended SCRAM authentication without proving its identity (no SASLFinal)")
                }
                return .wait
            case .cleartextPassword:
                guard let password else { return needPassword("password") }
                return .send(PasswordMessage(password: password).encoded)
            case .md5Password(let salt):
                guard let password else { return needPassword("md5") }
                return .send(PasswordMessage(password: MD5Password.response(user: user, secret: password, salt: salt)).encoded)
            case .sasl(let mechanisms):
                guard mechanisms.contains("SCRAM-SHA-256") else {
                    return .fail(sqlState: "28000", message: "upstream server offers no supported SASL mechanism (\(mechanisms.joined(separator: ", ")))")
                }
                let client: ScramClient
                if let password, ScramKeys(verifier: password) == nil, !MD5Password.isStoredHash(password) {
                    client = ScramClient(password: password, clientNonce: clientNonce)
                } else if let passThrough {
                    client = ScramClient(passThrough: passThrough, clientNonce: clientNonce)
                } else {
                    return needPassword("SCRAM-SHA-256")
                }
                scram = client
                return .send(SASLInitialResponse(mechanism: "SCRAM-SHA-256", data: client.clientFirstMessage).encoded)
            case .saslContinue(let data):
                guard var client = scram else {
                    return .fail(sqlState: "08P01", message: "upstream server sent a SCRAM message out of turn")
                }
                let reply: [UInt8]
                do { reply = try client.serverFirstReceived(data) } catch ScramError.passThroughMismatch {
                    return .fail(sqlState: SQLState.invalidPassword, message: "upstream server's SCRAM salt or iteration count for user \"\(user)\" is not the verifier pgstash looked up (the password changed since); log in again")
                } catch {
                    return .fail(sqlState: "08P01", message: "upstream server sent a malformed SCRAM message")
                }
                scram = client
                return .send(FrontendMessage.passwordData(reply).encoded)
            case .saslFinal(let data):
                guard let client = scram, (try? client.serverFinalReceived(data)) != nil else {
                    return .fail(sqlState: "28000", message: "upstream server's SCRAM signature is invalid")
                }
                scramVerified = true
                return .wait
            case .kerberosV5, .gss, .gssContinue, .sspi:
                return .fail(sqlState: "28000", message: "upstream server asked for an authentication method pgstash does not support (GSSAPI/SSPI/Kerberos)")
            }
        case let .parameterStatus(name, value):
            parameters[name] = value
            return .wait
        case let .backendKeyData(pid, secret):
            key = (pid, secret)
            return .wait
        case .readyForQuery:
            return .ready(parameters: parameters, processID: key.0, secretKey: key.1)
        case .errorResponse(let f):
            return .fail(sqlState: f.sqlState ?? "08006", message: f.message ?? "upstream login failed")
        case .noticeResponse, .negotiateProtocolVersion:
            return .wait
        default:
            return .fail(sqlState: "08P01", message: "upstream server sent an unexpected message during login")
        }
    }
}
