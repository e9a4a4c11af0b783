import Synchronization

/// The client-side SCRAM keys (ClientKey, ServerKey) pgstash derived for a password, kept so
/// that the next upstream login with the same password, salt and iteration count skips
/// PBKDF2. A role's salt and iteration count stay the same until its password changes, so
/// every server a pool opens for that role after the first costs two HMACs instead of 4,096
/// rounds of HMAC-SHA-256 (about 10 ms of the event loop's time, during which no client is
/// served). PgBouncer keeps the same keys for the same reason.
///
/// A changed password or verifier upstream brings another salt, so it misses and derives anew;
/// entries only ever hold what PBKDF2 would compute again. The cache is process-wide and
/// thread-safe; it holds at most `capacity` entries and is emptied when full (logins then
/// derive again, as they did before it existed).
public final class ScramSaltedKeys: Sendable {
    public struct Keys: Sendable, Equatable {
        public var clientKey: [UInt8]
        public var serverKey: [UInt8]
    }

    private struct Key: Hashable, Sendable {
        var password: [UInt8]
        var salt: [UInt8]
        var iterations: Int
    }

    /// The one cache upstream logins use.
    public static let shared = ScramSaltedKeys(capacity: 256)

    public let capacity: Int
    private let entries = Mutex<[Key: Keys]>([:])

    public init(capacity: Int) {
        precondition(capacity > 0, "ScramSaltedKeys needs room for one entry")
        self.capacity = capacity
    }

    /// The keys for `password` with `salt` and `iterations`: from the cache, or derived
    /// (PBKDF2) and remembered.
    public func keys(password: [UInt8], salt: [UInt8], iterations: Int) -> Keys {
        let key = Key(password: password, salt: salt, iterations: iterations)
        if let hit = entries.withLock({ $0[key] }) { return hit }
        let salted = Crypto.pbkdf2SHA256(password: password, salt: salt, iterations: iterations)
        let derived = Keys(clientKey: Crypto.hmacSHA256(key: salted, Array("Client Key".utf8)),
                           serverKey: Crypto.hmacSHA256(key: salted, Array("Server Key".utf8)))
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = derived
        }
        return derived
    }

    /// How many keys are held (tests and the admin console).
    public var count: Int { entries.withLock { $0.count } }
}
