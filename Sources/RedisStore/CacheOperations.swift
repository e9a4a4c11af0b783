/// The outcome of a lookup (cache.md §1.2 step 1).
public enum LookupResult: Sendable, Equatable {
    /// A member's lease lapsed (it may owe bumps): do not serve or fill from the cache.
    case degraded
    /// The entry is valid under the current epoch and tags; it expires in `ttlMs`.
    case hit(payload: [UInt8], ttlMs: Int64)
    /// No valid entry. `capturedTags` must be passed to the fill; `leaseAcquired` says
    /// whether this caller is the one filler across proxies (§4).
    case miss(capturedTags: String, leaseAcquired: Bool)
}

/// The cache's calls, typed. Times are in milliseconds as Redis takes them.
extension RedisStore {
    /// Reads the epoch and the tags, then the entry `hash`; on a miss, tries to take its lease.
    public func lookup(_ keys: CacheKeys, hash: String, tags: [String], token: String, leaseMs: Int,
                       versionTTLms: Int, _ completion: @escaping (Result<LookupResult, RedisError>) -> Void) {
        let k = [keys.sequence, keys.members, keys.entry(hash), keys.lease(hash), keys.epoch] + tags.map(keys.version)
        run(.lookup, keys: k, args: [token, String(leaseMs), String(versionTTLms)].map { Array($0.utf8) }) { result in
            completion(result.flatMap(Self.lookupResult))
        }
    }

    static func lookupResult(_ value: RedisValue) -> Result<LookupResult, RedisError> {
        guard case .array(let items) = value, let code = items.first?.integer else {
            return .failure(.unexpectedReply("lookup: \(value)"))
        }
        switch (code, items.count) {
        case (0, 1): return .success(.degraded)
        case (1, 3):
            if case .string(let payload) = items[1], let ttl = items[2].integer {
                return .success(.hit(payload: payload, ttlMs: ttl))
            }
        case (2, 3):
            if let captured = items[1].text, let lease = items[2].integer {
                return .success(.miss(capturedTags: captured, leaseAcquired: lease == 1))
            }
        default: break
        }
        return .failure(.unexpectedReply("lookup: \(value)"))
    }

    /// Stores `payload` under the tags captured by the lookup if they still hold; true if stored.
    public func fill(_ keys: CacheKeys, hash: String, tags: [String], capturedTags: String, ttlMs: Int, payload: [UInt8],
                     token: String, versionTTLms: Int, _ completion: @escaping (Result<Bool, RedisError>) -> Void) {
        let k = [keys.entry(hash), keys.lease(hash), keys.epoch] + tags.map(keys.version)
        let a = [Array(capturedTags.utf8), Array(String(ttlMs).utf8), payload, Array(token.utf8),
                 Array(String(versionTTLms).utf8)]
        run(.fill, keys: k, args: a) { result in
            completion(result.flatMap { v in
                v.integer.map { .success($0 == 1) } ?? .failure(.unexpectedReply("fill: \(v)"))
            })
        }
    }

    /// Gives `tags` (and the epoch if `epoch`) one fresh version; returns it.
    public func bump(_ keys: CacheKeys, tags: [String], epoch: Bool, versionTTLms: Int,
                     _ completion: @escaping (Result<Int64, RedisError>) -> Void) {
        let k = [keys.sequence, keys.epoch] + tags.map(keys.version)
        run(.bump, keys: k, args: [Array(String(versionTTLms).utf8), Array((epoch ? "1" : "0").utf8)]) { result in
            completion(result.flatMap { v in v.integer.map { .success($0) } ?? .failure(.unexpectedReply("bump: \(v)")) })
        }
    }

    /// The membership heartbeat (cache.md §1.5): this instance's lease ends at `expiresAtMs`
    /// (absolute, Unix milliseconds), so a delayed heartbeat cannot extend it.
    public func heartbeat(_ keys: CacheKeys, instance: String, expiresAtMs: Int64,
                          _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        command(["ZADD", keys.members, String(expiresAtMs), instance], completion)
    }

    /// Leaves the membership on a clean shutdown.
    public func leave(_ keys: CacheKeys, instance: String, _ completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        command(["ZREM", keys.members, instance], completion)
    }
}
