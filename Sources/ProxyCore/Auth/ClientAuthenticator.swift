import PostgresWire
import ProxyConfig

/// Authenticates one client per `[auth]`: trust, md5 or SCRAM-SHA-256 against the secret
/// from the auth file (a plain password, an `md5…` hash or a SCRAM verifier). Pure: nonces
/// and salts are supplied by the caller.
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
    /// nil: the user is unknown. The exchange still runs (with made-up keys) so the
    /// reply does not reveal which user names exist, as PostgreSQL does.
    let secret: String?
    let nonce: String
    let salt: [UInt8]
    let mockSalt: [UInt8]
    private var state = State.initial

    /// `salt`: fresh random bytes (md5 challenge). `mockSalt`: the stable salt shown for an
    /// unknown user (derive it from the user name and a per-process secret).
    public init(type: AuthType, user: String, secret: String?, nonce: String, salt: [UInt8], mockSalt: [UInt8]? = nil) {
        self.type = type; self.user = user; self.secret = secret; self.nonce = nonce; self.salt = salt
        self.mockSalt = mockSalt ?? Array(Crypto.sha256(Array("pgstash mock salt \(user)".utf8)).prefix(16))
    }

    private var failure: Action {
        .fail(sqlState: "28P01", message: "password authentication failed for user \"\(user)\"")
    }

    public mutating func start() -> Action {
        switch type {
        case .trust:
            state = .done
            return .succeed(final: nil)
        case .md5 where secret.map({ ScramKeys(verifier: $0) == nil }) ?? true:
            let s = Array(salt.prefix(4))
            state = .awaitingPassword(salt: s)
            return .send(BackendMessage.authentication(.md5Password(salt: s)).encoded)
        case .md5, .scramSHA256:
            if let secret, MD5Password.isStoredHash(secret) {
                // Only an md5 hash is known: SCRAM cannot be done with it (PostgreSQL also falls back).
                let s = Array(salt.prefix(4))
                state = .awaitingPassword(salt: s)
                return .send(BackendMessage.authentication(.md5Password(salt: s)).encoded)
            }
            // An unknown user gets made-up keys with a salt that is the same at every login
            // (PostgreSQL's scram_mock_salt), so the exchange reveals nothing.
            let keys = secret.flatMap { ScramKeys(verifier: $0) }
                ?? ScramKeys(password: secret ?? nonce, salt: secret == nil ? mockSalt : Array(salt.prefix(16)), iterations: 4096)
            state = .awaitingSASLInitial(keys)
            return .send(BackendMessage.authentication(.sasl(mechanisms: ["SCRAM-SHA-256"])).encoded)
        }
    }

    /// The client's 'p' message body arrived.
    public mutating func passwordDataReceived(_ data: [UInt8]) -> Action {
        switch state {
        case .awaitingPassword(let s):
            guard let secret, let end = data.firstIndex(of: 0) else { state = .done; return failure }
            let got = String(decoding: data[..<end], as: UTF8.self)
            state = .done
            return got == MD5Password.response(user: user, secret: secret, salt: s) ? .succeed(final: nil) : failure
        case .awaitingSASLInitial(let keys):
            guard let initial = try? SASLInitialResponse(passwordData: data) else {
                state = .done
                return .fail(sqlState: "08P01", message: "malformed SASLInitialResponse message")
            }
            guard initial.mechanism == "SCRAM-SHA-256" else {
                state = .done
                return .fail(sqlState: "08P01", message: "client selected an invalid SASL authentication mechanism \"\(initial.mechanism)\"")
            }
            let first = initial.data ?? []
            var server = ScramServer(keys: keys, serverNonce: nonce)
            do {
                let reply = try server.clientFirstReceived(first)
                state = .awaitingSASLFinal(server)
                return .send(BackendMessage.authentication(.saslContinue(reply)).encoded)
            } catch {
                state = .done
                return .fail(sqlState: "08P01", message: "malformed SCRAM message: \(error)")
            }
        case .awaitingSASLFinal(let server):
            state = .done
            do {
                let final = try server.clientFinalReceived(data)
                guard secret != nil else { return failure }
                return .succeed(final: BackendMessage.authentication(.saslFinal(final)).encoded)
            } catch ScramError.invalidProof {
                return failure
            } catch {
                return .fail(sqlState: "08P01", message: "malformed SCRAM message: \(error)")
            }
        case .initial, .done:
            state = .done
            return .fail(sqlState: "08P01", message: "unexpected password message")
        }
    }
}
