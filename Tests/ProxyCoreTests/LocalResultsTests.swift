import ProxyCore
import Testing

/// The local copy as traces: heartbeats, writes, replies that were in flight, and what a
/// lookup finds. Times are loop seconds.
@Suite struct LocalResultsTests {
    private let p: [UInt8] = Array("rows".utf8)

    /// A copy that is solo from t=0 (heartbeat sent at 0, lease 1.5 s) holding `k` tagged `t`.
    private func soloWithEntry(tags: [String] = ["orders|rows"]) -> LocalResults {
        var l = LocalResults(byteLimit: 1 << 20, soloLease: 1.5)
        l.heartbeat(sentAt: 0, alone: true, epoch: "7", now: 0.001)
        let m = l.marker(tags: tags)
        #expect(put(&l, "k", payload: p, rule: "orders", tags: tags, marker: m, expiresAt: 100, now: 0.01))
        return l
    }

    @Test func servesWhileSoloAndUntilTheLeaseFromTheHeartbeatSent() {
        var l = soloWithEntry()
        #expect(get(&l, "k", now: 1.0)?.payload == p)
        #expect(get(&l, "k", now: 1.49)?.payload == p)
        // The lease counts from when the heartbeat was sent, not when its reply came.
        #expect(get(&l, "k", now: 1.5) == nil)
        // Lapsed: flushed, so a later solo heartbeat does not bring the old entry back.
        l.heartbeat(sentAt: 1.6, alone: true, epoch: "7", now: 1.61)
        #expect(get(&l, "k", now: 1.7) == nil)
        #expect(l.count == 0)
    }

    @Test func anEpochChangeWhileNotAloneIsStillNoticed() {
        var l = soloWithEntry()
        l.heartbeat(sentAt: 0.6, alone: false, epoch: "7", now: 0.61)
        l.heartbeat(sentAt: 1.2, alone: true, epoch: nil, now: 1.21)   // FLUSHALL took the peer too
        #expect(!l.isSolo(now: 1.22))
    }

    @Test func anotherMemberStopsServingAndFlushes() {
        var l = soloWithEntry()
        l.heartbeat(sentAt: 0.6, alone: false, epoch: "7", now: 0.61)
        #expect(get(&l, "k", now: 0.62) == nil)
        #expect(l.count == 0)
        // Nothing is stored while not solo.
        let m = l.marker(tags: ["orders|rows"])
        #expect(!put(&l, "k", payload: p, rule: "orders", tags: ["orders|rows"], marker: m, expiresAt: 100, now: 0.7))
    }

    @Test func aLocalWriteInvalidatesEntriesWithItsTagsOnly() {
        var l = soloWithEntry()
        let m = l.marker(tags: ["stores|rows"])
        #expect(put(&l, "s", payload: p, rule: "stores", tags: ["stores|rows"], marker: m, expiresAt: 100, now: 0.02))
        l.invalidate(tags: ["orders|rows"], everything: false)
        #expect(get(&l, "k", now: 0.1) == nil)
        #expect(get(&l, "s", now: 0.1)?.rule == "stores")
        l.invalidate(tags: [], everything: true)
        #expect(get(&l, "s", now: 0.1) == nil)
    }

    @Test func aReplyInFlightAcrossAWriteIsNotKept() {
        var l = soloWithEntry()
        let before = l.marker(tags: ["orders|rows", "orders|status"])
        l.invalidate(tags: ["orders|status"], everything: false)
        #expect(!put(&l, "k2", payload: p, rule: "orders", tags: ["orders|rows", "orders|status"], marker: before,
                         expiresAt: 100, now: 0.2))
        // A write to another tag does not refuse it.
        let again = l.marker(tags: ["orders|rows", "orders|status"])
        l.invalidate(tags: ["stores|rows"], everything: false)
        #expect(put(&l, "k2", payload: p, rule: "orders", tags: ["orders|rows", "orders|status"], marker: again,
                        expiresAt: 100, now: 0.2))
        // An epoch bump in flight refuses everything taken before it.
        let m = l.marker(tags: ["x|rows"])
        l.epochBumped(to: "8")
        #expect(!put(&l, "x", payload: p, rule: "x", tags: ["x|rows"], marker: m, expiresAt: 100, now: 0.3))
    }

    @Test func anEpochChangedElsewhereFlushesAndDistrustsSoloForALease() {
        var l = soloWithEntry()
        l.heartbeat(sentAt: 0.6, alone: true, epoch: nil, now: 0.61)   // FLUSHALL: the epoch is gone
        #expect(get(&l, "k", now: 0.62) == nil)
        // Solo heartbeats sent within the next lease do not count: a peer re-adds itself by then.
        l.heartbeat(sentAt: 1.2, alone: true, epoch: nil, now: 1.21)
        let m = l.marker(tags: ["orders|rows"])
        #expect(!put(&l, "k", payload: p, rule: "orders", tags: ["orders|rows"], marker: m, expiresAt: 100, now: 1.3))
        l.heartbeat(sentAt: 2.2, alone: true, epoch: nil, now: 2.21)
        #expect(put(&l, "k", payload: p, rule: "orders", tags: ["orders|rows"], marker: l.marker(tags: ["orders|rows"]),
                        expiresAt: 100, now: 2.3))
        #expect(get(&l, "k", now: 2.4) != nil)
    }

    @Test func ownEpochBumpIsNotMistakenForAForeignOne() {
        var l = soloWithEntry()
        l.epochBumped(to: "9")
        l.heartbeat(sentAt: 0.6, alone: true, epoch: "9", now: 0.61)
        #expect(put(&l, "k", payload: p, rule: "orders", tags: ["orders|rows"], marker: l.marker(tags: ["orders|rows"]),
                        expiresAt: 100, now: 0.7))
        #expect(get(&l, "k", now: 0.8) != nil)
    }

    @Test func expiryAndLostConnection() {
        var l = LocalResults(byteLimit: 1 << 20, soloLease: 1.5)
        l.heartbeat(sentAt: 0, alone: true, epoch: "1", now: 0)
        #expect(put(&l, "k", payload: p, rule: "r", tags: [], marker: l.marker(tags: []), expiresAt: 0.5, now: 0.1))
        #expect(get(&l, "k", now: 0.4) != nil)
        #expect(get(&l, "k", now: 0.5) == nil)
        #expect(put(&l, "k", payload: p, rule: "r", tags: [], marker: l.marker(tags: []), expiresAt: 1, now: 0.6))
        l.lostSolo(now: 0.65)
        #expect(get(&l, "k", now: 0.7) == nil)
        #expect(!l.isSolo(now: 0.7))
        // After a lost connection, solo again only from a heartbeat sent a lease later.
        l.heartbeat(sentAt: 1.0, alone: true, epoch: "2", now: 1.01)
        #expect(!l.isSolo(now: 1.02))
        l.heartbeat(sentAt: 2.2, alone: true, epoch: "2", now: 2.21)
        #expect(l.isSolo(now: 2.22))
    }

    @Test func boundedByBytes() {
        var l = LocalResults(byteLimit: 64 * 1024, soloLease: 10)
        l.heartbeat(sentAt: 0, alone: true, epoch: "1", now: 0)
        let big = [UInt8](repeating: 1, count: 1000)
        for i in 0..<1000 {
            l.store("k\(i)", payload: big, rule: "r", tags: ["t"], marker: l.marker(tags: ["t"]), expiresAt: 100, now: 1)
            #expect(l.bytes <= 64 * 1024)
        }
        // The most recent entries are kept; a hit in the older generation keeps an entry.
        #expect(get(&l, "k999", now: 2) != nil)
        #expect(get(&l, "k0", now: 2) == nil)
        // An entry over a quarter of the budget is not kept.
        #expect(!put(&l, "huge", payload: [UInt8](repeating: 0, count: 20_000), rule: "r", tags: [],
                         marker: l.marker(tags: []), expiresAt: 100, now: 1))
        // Disabled: nothing is kept.
        var off = LocalResults(byteLimit: 0)
        off.heartbeat(sentAt: 0, alone: true, epoch: "1", now: 0)
        #expect(!put(&off, "k", payload: p, rule: "r", tags: [], marker: off.marker(tags: []), expiresAt: 100, now: 0.1))
    }
}

private func get(_ l: inout LocalResults, _ key: String, now: Double) -> LocalResults.Entry? { l.lookup(key, now: now) }

private func put(_ l: inout LocalResults, _ key: String, payload: [UInt8], rule: String, tags: [String],
                 marker: LocalResults.Marker, expiresAt: Double, now: Double) -> Bool {
    l.store(key, payload: payload, rule: rule, tags: tags, marker: marker, expiresAt: expiresAt, now: now)
}
