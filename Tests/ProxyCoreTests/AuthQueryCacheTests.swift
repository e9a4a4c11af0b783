import ProxyCore
import Testing

/// Traces of the auth_query cache: lookups requested and completed, answers handed out, time
/// passed in as `now`.
@Suite("AuthQueryCache")
struct AuthQueryCacheTests {
    static let alice = AuthLookupKey(database: "app", user: "alice")
    static let bob = AuthLookupKey(database: "app", user: "bob")
    static let found = AuthQueryAnswer(credential: StoredCredential(md5Secret: "md5" + String(repeating: "a", count: 32), scramKeys: nil))
    static let unknown = AuthQueryAnswer(credential: nil, refusal: "no such role")
    let c1 = ClientID(1), c2 = ClientID(2), c3 = ClientID(3)

    @Test func concurrentLoginsOfOneUserShareOneLookup() {
        var cache = AuthQueryCache(ttl: 30)
        #expect(cache.lookupRequested(Self.alice, by: c1, now: 0) == [.startLookup(Self.alice)])
        #expect(cache.lookupRequested(Self.alice, by: c2, now: 0.1) == [])
        #expect(cache.lookupRequested(Self.bob, by: c3, now: 0.1) == [.startLookup(Self.bob)])
        #expect(cache.lookupCompleted(Self.alice, .success(Self.found), now: 0.2)
                == [.answer(c1, .success(Self.found)), .answer(c2, .success(Self.found))])
        #expect(cache.lookupsRunning == 1)
    }

    @Test func answersAreReusedUntilTheTTL() {
        var cache = AuthQueryCache(ttl: 30)
        _ = cache.lookupRequested(Self.alice, by: c1, now: 0)
        _ = cache.lookupCompleted(Self.alice, .success(Self.found), now: 1)
        #expect(cache.lookupRequested(Self.alice, by: c2, now: 30.9) == [.answer(c2, .success(Self.found))])
        // Expired: a dropped role (or a changed password) is seen at the next lookup.
        #expect(cache.lookupRequested(Self.alice, by: c3, now: 31) == [.startLookup(Self.alice)])
        #expect(cache.lookupCompleted(Self.alice, .success(Self.unknown), now: 31.1) == [.answer(c3, .success(Self.unknown))])
        #expect(cache.lookupRequested(Self.alice, by: c1, now: 32) == [.answer(c1, .success(Self.unknown))])
    }

    @Test func aFailedLookupIsNotKept() {
        var cache = AuthQueryCache(ttl: 30)
        _ = cache.lookupRequested(Self.alice, by: c1, now: 0)
        let down = AuthQueryError.connectionFailed("connection refused")
        #expect(cache.lookupCompleted(Self.alice, .failure(down), now: 1) == [.answer(c1, .failure(down))])
        #expect(down.sqlState == "08006")
        #expect(cache.lookupRequested(Self.alice, by: c2, now: 2) == [.startLookup(Self.alice)])
    }

    @Test func entriesAreBounded() {
        var cache = AuthQueryCache(ttl: 30, maxEntries: 2)
        for (i, user) in ["a", "b", "c"].enumerated() {
            let key = AuthLookupKey(database: "app", user: user)
            _ = cache.lookupRequested(key, by: ClientID(i), now: Double(i))
            _ = cache.lookupCompleted(key, .success(Self.found), now: Double(i))
        }
        #expect(cache.count == 2)
        // The oldest ("a") went.
        #expect(cache.lookupRequested(AuthLookupKey(database: "app", user: "a"), by: c1, now: 3)
                == [.startLookup(AuthLookupKey(database: "app", user: "a"))])
        #expect(cache.lookupRequested(AuthLookupKey(database: "app", user: "c"), by: c2, now: 3)
                == [.answer(c2, .success(Self.found))])
    }

    /// A key stored again counts from its new time: the other, older key goes first.
    @Test func aKeyStoredAgainIsNoLongerTheOldest() {
        var cache = AuthQueryCache(ttl: 10, maxEntries: 2)
        func store(_ user: String, at t: Double) {
            let key = AuthLookupKey(database: "app", user: user)
            _ = cache.lookupRequested(key, by: c1, now: t)
            _ = cache.lookupCompleted(key, .success(Self.found), now: t)
        }
        store("a", at: 0)
        store("b", at: 5)
        store("a", at: 11)          // a expired, looked up again
        store("c", at: 12)          // over the bound: b (5) is the oldest now
        #expect(cache.count == 2)
        #expect(cache.lookupRequested(AuthLookupKey(database: "app", user: "a"), by: c2, now: 13) == [.answer(c2, .success(Self.found))])
        #expect(cache.lookupRequested(AuthLookupKey(database: "app", user: "b"), by: c2, now: 13)
                == [.startLookup(AuthLookupKey(database: "app", user: "b"))])
    }

    /// 100,000 distinct names through a cache of 1,000: each store stays cheap (no scan).
    @Test func storesStayCheapAtTheBound() {
        var cache = AuthQueryCache(ttl: 3600, maxEntries: 1_000)
        let start = ContinuousClock.now
        for i in 0..<100_000 {
            let key = AuthLookupKey(database: "app", user: "u\(i)")
            _ = cache.lookupRequested(key, by: ClientID(i), now: Double(i) / 1000)
            _ = cache.lookupCompleted(key, .success(Self.unknown), now: Double(i) / 1000)
        }
        #expect(cache.count == 1_000)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func lookupsBeyondTheLimitQueueAndSkipAbandonedKeys() {
        var cache = AuthQueryCache(ttl: 30, maxConcurrentLookups: 1)
        let carol = AuthLookupKey(database: "app", user: "carol")
        #expect(cache.lookupRequested(Self.alice, by: c1, now: 0) == [.startLookup(Self.alice)])
        #expect(cache.lookupRequested(Self.bob, by: c2, now: 0) == [])
        #expect(cache.lookupRequested(carol, by: c3, now: 0) == [])
        cache.clientGaveUp(c2)      // bob's lookup is no longer wanted
        #expect(cache.lookupCompleted(Self.alice, .success(Self.found), now: 1)
                == [.answer(c1, .success(Self.found)), .startLookup(carol)])
    }

    @Test func aClientThatLeftGetsNoAnswer() {
        var cache = AuthQueryCache(ttl: 30)
        _ = cache.lookupRequested(Self.alice, by: c1, now: 0)
        _ = cache.lookupRequested(Self.alice, by: c2, now: 0)
        cache.clientGaveUp(c1)
        #expect(cache.lookupCompleted(Self.alice, .success(Self.found), now: 1) == [.answer(c2, .success(Self.found))])
        // A completion nobody started (after a restart of the machine) is ignored.
        #expect(cache.lookupCompleted(Self.bob, .success(Self.found), now: 1) == [])
    }

    @Test func flushForgetsAnswers() {
        var cache = AuthQueryCache(ttl: 30)
        _ = cache.lookupRequested(Self.alice, by: c1, now: 0)
        _ = cache.lookupCompleted(Self.alice, .success(Self.found), now: 0)
        cache.flush()
        #expect(cache.lookupRequested(Self.alice, by: c2, now: 1) == [.startLookup(Self.alice)])
    }
}

/// What pgstash accepts from auth_query's rows.
@Suite("AuthQueryAnswer")
struct AuthQueryAnswerTests {
    static let verifier = ScramPassThroughTests.verifier.verifier
    static func answer(_ rows: [[String?]]) throws(AuthQueryError) -> AuthQueryAnswer {
        try AuthQueryAnswer.from(rows: rows, user: "alice", scram: true) { _ in
            ScramKeys(iterations: 1, salt: [1], storedKey: [2], serverKey: [3])
        }
    }

    @Test func secretsBecomeCredentials() throws {
        let scram = try Self.answer([["alice", Self.verifier]])
        #expect(scram.credential == StoredCredential(md5Secret: nil, scramKeys: ScramPassThroughTests.verifier))
        let md5 = try Self.answer([["alice", MD5PassThroughTests.hash, nil]])
        #expect(md5.credential == StoredCredential(md5Secret: MD5PassThroughTests.hash, scramKeys: nil))
        #expect(md5.credential(at: 2e9) != nil)
        // A plain password (from a custom function) gets SCRAM keys, off the loop.
        let plain = try Self.answer([["alice", "pw"]])
        #expect(plain.credential?.scramKeys == ScramKeys(iterations: 1, salt: [1], storedKey: [2], serverKey: [3]))
    }

    @Test func unusableRowsAreRefused() throws {
        #expect(try Self.answer([]).credential(at: 0) == nil)
        #expect(try Self.answer([]).refusal(at: 0) == "no such role")
        #expect(try Self.answer([["alice", nil]]).refusal(at: 0) == "role has no password")
        #expect(try Self.answer([["alice", ""]]).credential(at: 0) == nil)
    }

    @Test func expiryIsCheckedAtEachLogin() throws {
        let a = try Self.answer([["alice", Self.verifier, "1700000000"]])
        #expect(a.credential(at: 1_699_999_999) != nil)
        #expect(a.credential(at: 1_700_000_000) == nil)
        #expect(a.refusal(at: 1_700_000_000) == "password expired (rolvaliduntil)")
        #expect(try Self.answer([["alice", Self.verifier, "Infinity"]]).credential(at: 1e12) != nil)
        #expect(try Self.answer([["alice", Self.verifier, "-Infinity"]]).credential(at: 0) == nil)
    }

    @Test func malformedResultsAreErrors() {
        #expect(throws: AuthQueryError.tooManyRows(2)) { try Self.answer([["alice", "x"], ["alice", "y"]]) }
        #expect(throws: AuthQueryError.tooFewColumns(1)) { try Self.answer([["alice"]]) }
        #expect(throws: AuthQueryError.unreadableExpiry("2024-01-01")) { try Self.answer([["alice", "x", "2024-01-01"]]) }
        #expect(AuthQueryError.queryFailed("boom").sqlState == "28000")
    }
}
