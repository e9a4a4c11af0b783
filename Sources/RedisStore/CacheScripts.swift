/// A Lua script of cache.md §1.3, loaded with `SCRIPT LOAD` on every connect and run by
/// `EVALSHA`. Changes from the sketch: the epoch `EP` never gets a TTL (§1.4: `volatile-lru`
/// must not evict it), so the lookup seeds it without `PX` and the fill does not refresh it.
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String

    /// The scripts loaded on connect.
    public static let all = [lookup, fill, bump, checkRunID]

    /// KEYS: SEQ, M, E:h, L:h, EP, tag…  ARGV: token, leaseMs, versionTTLms.
    /// Returns `{0}` degraded (a member's lease lapsed), `{1, payload, PTTL}` hit, or
    /// `{2, captured tags, lease acquired 0/1}` miss. Missing tags are seeded above every value
    /// issued before (a fresh `INCR SEQ`; SEQ itself is seeded from `TIME` in µs).
    public static let lookup = RedisScript(name: "lookup", source: """
        local t=redis.call('TIME')
        if redis.call('ZCOUNT',KEYS[2],'-inf',t[1]*1000+math.floor(t[2]/1000))>0 then return {0} end
        local tag={}
        for i=5,#KEYS do
          local v=redis.call('GET',KEYS[i])
          if not v then
            if redis.call('EXISTS',KEYS[1])==0 then redis.call('SET',KEYS[1],t[1]..string.format('%06d',t[2])) end
            v=string.format('%d',redis.call('INCR',KEYS[1]))
            if i==5 then redis.call('SET',KEYS[i],v) else redis.call('SET',KEYS[i],v,'PX',ARGV[3]) end
          end
          tag[#tag+1]=v
        end
        tag=table.concat(tag,',')
        if redis.call('HGET',KEYS[3],'t')==tag then return {1,redis.call('HGET',KEYS[3],'p'),redis.call('PTTL',KEYS[3])} end
        return {2,tag,redis.call('SET',KEYS[4],ARGV[1],'NX','PX',ARGV[2]) and 1 or 0}
        """)

    /// KEYS: E:h, L:h, EP, tag…  ARGV: captured tags, ttlMs, payload, token, versionTTLms.
    /// Stores only if the epoch and tags still hold the captured values (CAS); releases the
    /// caller's lease either way. Returns 1 if stored.
    public static let fill = RedisScript(name: "fill", source: """
        local c={}
        for i=3,#KEYS do c[#c+1]=redis.call('GET',KEYS[i]) or '?' end
        local ok=table.concat(c,',')==ARGV[1]
        if ok then
          redis.call('HSET',KEYS[1],'t',ARGV[1],'p',ARGV[3])
          redis.call('PEXPIRE',KEYS[1],ARGV[2])
          for i=4,#KEYS do redis.call('PEXPIRE',KEYS[i],ARGV[5]) end
        end
        if redis.call('GET',KEYS[2])==ARGV[4] then redis.call('DEL',KEYS[2]) end
        return ok and 1 or 0
        """)

    /// KEYS: SEQ, EP, tag…  ARGV: versionTTLms, bump epoch ("1"/"0"). Sets every tag (and the
    /// epoch if asked) to one fresh `INCR SEQ`; returns it.
    public static let bump = RedisScript(name: "bump", source: """
        if redis.call('EXISTS',KEYS[1])==0 then
          local t=redis.call('TIME')
          redis.call('SET',KEYS[1],t[1]..string.format('%06d',t[2]))
        end
        local v=string.format('%d',redis.call('INCR',KEYS[1]))
        if ARGV[2]=='1' then redis.call('SET',KEYS[2],v) end
        for i=3,#KEYS do redis.call('SET',KEYS[i],v,'PX',ARGV[1]) end
        return v
        """)

    /// KEYS: RUNID, SEQ, EP  ARGV: run_id. If `RUNID` differs, bumps the epoch and records the
    /// run id; returns 1 then, else 0.
    public static let checkRunID = RedisScript(name: "check-run-id", source: """
        if redis.call('GET',KEYS[1])==ARGV[1] then return 0 end
        if redis.call('EXISTS',KEYS[2])==0 then
          local t=redis.call('TIME')
          redis.call('SET',KEYS[2],t[1]..string.format('%06d',t[2]))
        end
        redis.call('SET',KEYS[3],string.format('%d',redis.call('INCR',KEYS[2])))
        redis.call('SET',KEYS[1],ARGV[1])
        return 1
        """)
}

/// The Redis keys of one database's cache (cache.md §1.1), under `pgs:{db}:` so that a
/// script's keys share a hash slot.
public struct CacheKeys: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }
    public init(database: String) { self.prefix = Self.prefix(database: database) }

    /// `pgs:{db}:`; braces in the name are replaced so the hash tag stays the database's.
    public static func prefix(database: String) -> String {
        "pgs:{\(database.replacingBraces)}:"
    }

    public var sequence: String { prefix + "SEQ" }
    public var epoch: String { prefix + "EP" }
    public var members: String { prefix + "M" }
    public var runID: String { prefix + "RUNID" }
    public func entry(_ hash: String) -> String { prefix + "E:" + hash }
    public func lease(_ hash: String) -> String { prefix + "L:" + hash }
    /// `V:<tag>`, the tag as `InvalidationTag.description` spells it.
    public func version(_ tag: String) -> String { prefix + "V:" + tag }
}

extension String {
    var replacingBraces: String { String(map { $0 == "{" || $0 == "}" ? "_" : $0 }) }
}
