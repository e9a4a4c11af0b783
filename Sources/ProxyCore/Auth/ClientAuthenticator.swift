import PostgresWire
import ProxyConfig

/// Authenticates one client per `[auth]`: trust, md5 or SCRAM-SHA-256 against the user's
/// credential, prepared at load (`CredentialStore`). Pure, and never derives keys: nonces,
/// salts and the mock keys of an unknown user are supplied by the caller.
public struct ClientAuthenticator: Sendable {
    /// What the driver does next.
    public enum Action: Equatable, Sendable {
        /// Send this Authentication message and wait for the client's 'p' message.
        case send([UInt8])
        /// Authentication succeeded: send AuthenticationOk (plus `final`, SCRAM's last word, first).
        case succeed(final: [UInt8]?)
        /// Refuse the client with this SQLSTATE and message.
        case fail(sqlState: String, message: String)
    }

    enum State: Sendable {
        case initial
        case awaitingPassword(salt: [UInt8])
        case awaitingSASLInitial(ScramKeys)
        case awaitingSASLFinal(ScramServer)
        case done
    }

    let type: AuthType
    let user: String
    /// nil: the user is unknown. The exchange still runs (with `mockKeys`) and fails where a
    /// wrong password fails, so the replies do not reveal which user names exist.
    let credential: StoredCredential?
    let nonce: String
    let salt: [UInt8]
    let mockKeys: ScramKeys
    /// The connection's tls-server-end-point data when it runs TLS: SCRAM-SHA-256-PLUS is
    /// offered too.
    let channelBinding: [UInt8]?
    private var state = State.initial
    /// After a SCRAM success: the verifier's keys and the ClientKey recovered from the
    /// client's proof, enough to log in upstream as this user (auth_query users).
    public private(set) var passThrough: ScramPassThroughKeys?

    /// `salt`: fresh random bytes (the md5 challenge takes 4). `mockKeys`: the keys shown to
    /// an unknown user (`MockCredentials.scramKeys(for:)`), stable for that name.
    public init(type: AuthType, user: String, credential: StoredCredential?, nonce: String, salt: [UInt8],
                mockKeys: ScramKeys, channelBinding: [UInt8]? = nil) {
        self.channelBinding = channelBinding
        self.type = type; self.user = user; self.credential = credential; self.nonce = nonce; self.salt = salt
        self.mockKeys = mockKeys
    }

    private var failure: Action {
        .fail(sqlState: "28P01", message: "password authentication failed for user \"\(user)\"")
    }

    /// md5 when configured and possible, else SCRAM; SCRAM when configured and possible, else
    /// md5 (a user known only by an md5 hash: PostgreSQL falls back the same way). An unknown
    /// user gets the configured method.
    public mutating func start() -> Action {
        let md5: Bool
        switch type {
        case .trust:
            state = .done
            return .succeed(final: nil)
        case .md5:
            md5 = credential?.md5Secret != nil || credential?.scramKeys == nil
        case .scramSHA256:
            md5 = credential != nil && credential?.scramKeys == nil
        }
        if md5 {
            let s = Array(salt.prefix(4))
            state = .awaitingPassword(salt: s)
            return .send(BackendMessage.authentication(.md5Password(salt: s)).encoded)
        }
        state = .awaitingSASLInitial(credential?.scramKeys ?? mockKeys)
        let mechanisms = channelBinding == nil ? ["SCRAM-SHA-256"] : ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
        return .send(BackendMessage.authentication(.sasl(mechanisms: mechanisms)).encoded)
    }

    /// The client's 'p' message body arrived.
    public mutating func passwordDataReceived(_ data: [UInt8]) -> Action {
        switch state {
        case .awaitingPassword(let s):
            state = .done
            guard let end = data.firstIndex(of: 0) else { return failure }
            // An unknown user's response is checked against a made-up secret, so both cost the same.
            let secret = credential?.md5Secret ?? Crypto.hex(mockKeys.salt)
            let expected = MD5Password.response(user: user, secret: secret, salt: s)
            let matches = Crypto.constantTimeEqual(Array(data[..<end]), Array(expected.utf8))
            return matches && credential?.md5Secret != nil ? .succeed(final: nil) : failure
        case .awaitingSASLInitial(let keys):
            guard let initial = try? SASLInitialResponse(passwordData: data) else {
                state = .done
                return .fail(sqlState: "08P01", message: "malformed SASLInitialResponse message")
            }
            let plus = initial.mechanism == "SCRAM-SHA-256-PLUS" && channelBinding != nil
            guard initial.mechanism == "SCRAM-SHA-256" || plus else {
                state = .done
                return .fail(sqlState: "08P01", message: "client selected an invalid SASL authentication mechanism \"\(initial.mechanism)\"")
            }
            let first = initial.data ?? []
            var server = ScramServer(keys: keys, serverNonce: nonce, channelBinding: channelBinding, plus: plus)
            do {
                let reply = try server.clientFirstReceived(first)
                state = .awaitingSASLFinal(server)
                return .send(BackendMessage.authentication(.saslContinue(reply)).encoded)
            } catch {
                state = .done
                return Self.scramFailure(error)
            }
        case .awaitingSASLFinal(let server):
            state = .done
            do {
                let (final, clientKey) = try server.clientFinalVerified(data)
                guard let keys = credential?.scramKeys else { return failure }   // mock keys: doomed
                passThrough = ScramPassThroughKeys(keys: keys, clientKey: clientKey)
                return .succeed(final: BackendMessage.authentication(.saslFinal(final)).encoded)
            } catch ScramError.invalidProof {
                return failure
            } catch {
                return Self.scramFailure(error)
            }
        case .initial, .done:
            state = .done
            return .fail(sqlState: "08P01", message: "unexpected password message")
        }
    }

    /// PostgreSQL's words for a failed exchange (auth-scram.c).
    static func scramFailure(_ error: Error) -> Action {
        switch error as? ScramError {
        case .channelBindingMismatch?:
            return .fail(sqlState: "28000", message: "SCRAM channel binding check failed")
        case .channelBindingDowngrade?:
            return .fail(sqlState: "08P01", message: "SCRAM channel binding negotiation error: the client supports SCRAM channel binding but thinks the server does not; however, this server does support channel binding")
        case .channelBindingRequired?:
            return .fail(sqlState: "08P01", message: "SCRAM channel binding negotiation error: the client selected SCRAM-SHA-256-PLUS but sent no channel binding")
        case .channelBindingUnsupported?:
            return .fail(sqlState: "08P01", message: "SCRAM channel binding negotiation error: unsupported channel binding type (pgstash binds tls-server-end-point, over TLS only)")
        default:
            return .fail(sqlState: "08P01", message: "malformed SCRAM message: \(error)")
        }
    }
}
