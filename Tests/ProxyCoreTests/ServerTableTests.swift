@testable import ProxyCore
import Testing

/// The pools' id → server table, against `Dictionary` as the reference.
@Suite("Server table")
struct ServerTableTests {
    /// A deterministic generator (SplitMix64), so a failure replays.
    struct Rng {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
    }

    @Test(arguments: [(0, 1), (3, 7), (1_000_000, 64)])
    func randomInsertsAndRemovalsMatchADictionary(base: Int, stride: Int) {
        var rng = Rng(state: UInt64(base + stride))
        var table = ServerTable<String>()
        var reference: [ServerID: String] = [:]
        // Ids as pools assign them (base + k·stride), over a window that slides like a
        // pool's connections open and close over time.
        for step in 0..<20_000 {
            let id = ServerID(base + (step / 50 + rng.next(40)) * stride)
            switch rng.next(3) {
            case 0, 1:
                table[id] = "v\(step)"
                reference[id] = "v\(step)"
            default:
                #expect(table.removeValue(forKey: id) == reference.removeValue(forKey: id))
            }
            let probe = ServerID(base + (step / 50 + rng.next(40)) * stride)
            #expect(table[probe] == reference[probe])
            #expect(table.count == reference.count)
        }
        #expect(Set(table.keys) == Set(reference.keys))
        #expect(table.values.sorted() == reference.values.sorted())
        for id in reference.keys { #expect(table[id] == reference[id]) }
    }

    @Test func modifyChangesInPlaceAndReportsAbsence() {
        var table = ServerTable<Int>()
        table[ServerID(5)] = 1
        #expect(table.modify(ServerID(5)) { $0 += 41 })
        #expect(table[ServerID(5)] == 42)
        #expect(!table.modify(ServerID(6)) { $0 = 0 })
        #expect(table[ServerID(6)] == nil)
        table[ServerID(5)] = nil
        #expect(table.isEmpty && table[ServerID(5)] == nil)
    }

    @Test func emptyingAndRefillingKeepsLookupsRight() {
        var table = ServerTable<Int>()
        for round in 0..<5 {
            for k in 0..<100 { table[ServerID(k * 3 + round)] = k }
            #expect(table.count == 100)
            for k in stride(from: 0, to: 100, by: 2) { table[ServerID(k * 3 + round)] = nil }
            for k in 0..<100 { #expect(table[ServerID(k * 3 + round)] == (k % 2 == 1 ? k : nil)) }
            for k in 0..<100 { table.removeValue(forKey: ServerID(k * 3 + round)) }
            #expect(table.isEmpty)
        }
    }
}
