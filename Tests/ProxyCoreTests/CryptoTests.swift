import ProxyCore
import Testing

/// SHA-256 through the direct calls, whole and from a prefix state (the cache key's hash).
@Suite struct CryptoTests {
    func hex(_ d: [UInt8]) -> String { d.map { String($0 / 16, radix: 16) + String($0 % 16, radix: 16) }.joined() }

    @Test func sha256Vectors() {
        #expect(hex(Crypto.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Crypto.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func prefixStateThenRestEqualsTheWhole() {
        var g = SystemRandomNumberGenerator()
        for n in [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4099] {
            let data = (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
            for cut in Set([0, n / 3, n / 2, n]) {
                let prefix = Crypto.sha256Prefix(Array(data[..<cut]))
                #expect(Crypto.sha256(prefix, then: Array(data[cut...])) == Crypto.sha256(data), "n=\(n) cut=\(cut)")
                // The prefix state is a value: finishing it twice gives the same digest.
                #expect(Crypto.sha256(prefix, then: [1, 2]) == Crypto.sha256(Array(data[..<cut]) + [1, 2]))
            }
        }
    }
}
