@testable import ProxyCore
import Testing

/// `PendingQueue` keeps its first eight entries packed in a word and the rest in an overflow
/// queue; whatever the mix of appends and pops, it must behave as a plain FIFO.
@Suite("Pending queue")
struct PendingQueueTests {
    static let kinds: [RequestKind?] = [nil, .parse, .bind, .describeStatement, .describePortal, .execute,
                                        .close, .sync, .query, .functionCall, .copyEnd]

    @Test func everyEntryPacksAndUnpacksToItself() {
        for kind in Self.kinds {
            for forward in [false, true] {
                for hasExtra in [false, true] {
                    let e = PendingEntry(kind: kind, forward: forward, hasExtra: hasExtra)
                    let back = PendingQueue.unpack(PendingQueue.pack(e))
                    #expect(back.kind == kind && back.forward == forward && back.hasExtra == hasExtra)
                }
            }
        }
    }

    @Test(arguments: [1, 2, 3])
    func randomAppendsAndPopsMatchAnArray(seed: UInt64) {
        var rng = ServerTableTests.Rng(state: seed)
        var q = PendingQueue()
        var model: [PendingEntry] = []
        for _ in 0..<20_000 {
            // Bursts long enough to spill past the word, then drains.
            if rng.next(100) < 55 {
                let e = PendingEntry(kind: Self.kinds[rng.next(Self.kinds.count)],
                                     forward: rng.next(2) == 0, hasExtra: rng.next(2) == 0)
                q.append(e)
                model.append(e)
            } else {
                let got = q.popFirst()
                let want = model.isEmpty ? nil : model.removeFirst()
                #expect(got?.kind == want?.kind && got?.forward == want?.forward && got?.hasExtra == want?.hasExtra)
            }
            #expect(q.count == model.count)
            #expect(q.isEmpty == model.isEmpty)
            #expect(q.first?.kind == model.first?.kind && q.first?.forward == model.first?.forward)
        }
        #expect(q.count { $0.forward } == model.filter(\.forward).count)
    }
}
