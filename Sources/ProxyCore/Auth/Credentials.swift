import ProxyConfig

/// What can verify one user's logins, prepared when the configuration is loaded so that no
/// login derives keys: the 4096 PBKDF2 rounds of a plain password run once, at load.
public struct StoredCredential: Sendable, Equatable {
    /// Answers md5 challenges: a plain password or pg_authid's `md5…` hash (nil: a verifier only).
    public var md5Secret: String?
    /// Verifies SCRAM-SHA-256 logins: parsed from a verifier or derived from a plain password
    /// (nil: an md5 hash only, or a plain password while `[auth] type` is not SCRAM).
    public var scramKeys: ScramKeys?

    public init(md5Secret: String?, scramKeys: ScramKeys?) {
        self.md5Secret = md5Secret
        self.scramKeys = scramKeys
    }

    /// From an auth-file secret. `derive` turns a plain password into SCRAM keys; it is called
    /// only when `scram` is true and the secret is a plain password.
    public init(secret: String, scram: Bool, derive: (String) -> ScramKeys) {
        if let keys = ScramKeys(verifier: secret) {
            self.init(md5Secret: nil, scramKeys: keys)
        } else if MD5Password.isStoredHash(secret) {
            self.init(md5Secret: secret, scramKeys: nil)
        } else {
            self.init(md5Secret: secret, scramKeys: scram ? derive(secret) : nil)
        }
    }
}

/// The made-up SCRAM keys shown to a user name that is not in the auth file, as PostgreSQL's
/// `mock_scram_secret` does: the salt is one HMAC of the name under a per-process secret, so it
/// is the same at every login (a changing salt would tell unknown names from known ones), and
/// costs no PBKDF2 (whose cost would tell them apart by time, and let unauthenticated clients
/// burn the loop's CPU). The keys are zero: the exchange is doomed and fails at the proof.
public struct MockCredentials: Sendable {
    let secret: [UInt8]

    /// `secret`: random bytes drawn once per process.
    public init(secret: [UInt8]) { self.secret = secret }

    /// The keys an exchange for the unknown `user` runs with.
    public func scramKeys(for user: String) -> ScramKeys {
        let mac = Crypto.hmacSHA256(key: secret, Array(user.utf8))
        let zero = [UInt8](repeating: 0, count: 32)
        return ScramKeys(iterations: ScramKeys.defaultIterations, salt: Array(mac.prefix(16)),
                         storedKey: zero, serverKey: zero)
    }
}

/// The credentials of `[auth] users`, by user name, with SCRAM keys derived at load and
/// reused across reloads while a user's secret is unchanged.
public struct CredentialStore: Sendable {
    /// Derives SCRAM keys from a plain password and a salt (PBKDF2 in production; tests count calls).
    public typealias KeyDerivation = @Sendable (_ password: String, _ salt: [UInt8]) -> ScramKeys

    private var credentials: [String: StoredCredential] = [:]
    /// The secret each credential was prepared from, to know on reload what changed.
    private var sources: [String: String] = [:]
    public let mock: MockCredentials
    let derive: KeyDerivation
    let newSalt: @Sendable () -> [UInt8]

    /// PBKDF2-SHA-256 with 4096 rounds, PostgreSQL's default for new verifiers.
    public static let pbkdf2: KeyDerivation = { password, salt in
        ScramKeys(password: password, salt: salt, iterations: ScramKeys.defaultIterations)
    }

    public init(auth: AuthConfig, mock: MockCredentials = MockCredentials(secret: Crypto.randomBytes(32)),
                derive: @escaping KeyDerivation = CredentialStore.pbkdf2,
                newSalt: @escaping @Sendable () -> [UInt8] = { Crypto.randomBytes(16) }) {
        self.mock = mock
        self.derive = derive
        self.newSalt = newSalt
        update(auth: auth)
    }

    /// Takes a reloaded `[auth]`: prepares new and changed users, drops removed ones. Keys of
    /// unchanged plain passwords are kept (a reload costs PBKDF2 only for what changed).
    public mutating func update(auth: AuthConfig) {
        let scram = auth.type == .scramSHA256
        var next: [String: StoredCredential] = [:]
        if auth.type != .trust {
            for (user, secret) in auth.users {
                // Reuse unless the secret changed, or SCRAM was just turned on for a plain password.
                if let old = credentials[user], sources[user] == secret, old.scramKeys != nil || !scram {
                    next[user] = old
                    continue
                }
                next[user] = StoredCredential(secret: secret, scram: scram) { derive($0, newSalt()) }
            }
        }
        credentials = next
        sources = auth.type == .trust ? [:] : auth.users
    }

    /// The credential of a user in the auth file; nil for a name that is not there.
    public func credential(for user: String) -> StoredCredential? { credentials[user] }
}
