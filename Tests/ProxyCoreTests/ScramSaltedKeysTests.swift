import ProxyCore
import Testing

/// The cache of derived client-side SCRAM keys (upstream logins skip PBKDF2 after the first).
@Suite("SCRAM salted-key cache")
struct ScramSaltedKeysTests {
    func login(password: String, keys: ScramKeys, cache: ScramSaltedKeys, nonce: String) throws {
        var client = ScramClient(password: password, clientNonce: nonce, saltedKeys: cache)
        var server = ScramServer(keys: keys, serverNonce: "srv" + nonce)
        let serverFirst = try server.clientFirstReceived(client.clientFirstMessage)
        let serverFinal = try server.clientFinalReceived(try client.serverFirstReceived(serverFirst))
        try client.serverFinalReceived(serverFinal)
    }

    @Test func derivedKeysAreSCRAMsClientKeyAndServerKey() {
        let cache = ScramSaltedKeys(capacity: 4)
        let derived = cache.keys(password: Array("pencil".utf8), salt: ScramTests.salt, iterations: 4096)
        // The verifier's StoredKey is SHA-256(ClientKey); its ServerKey is the same key.
        #expect(Crypto.sha256(derived.clientKey) == ScramTests.keys.storedKey)
        #expect(derived.serverKey == ScramTests.keys.serverKey)
    }

    @Test func repeatedLoginsWithOneVerifierShareOneEntry() throws {
        let cache = ScramSaltedKeys(capacity: 4)
        let keys = ScramKeys(password: "right", salt: Array(0..<16), iterations: 4096)
        for n in 0..<3 { try login(password: "right", keys: keys, cache: cache, nonce: "n\(n)") }
        #expect(cache.count == 1)
    }

    @Test func anotherPasswordOrSaltOrIterationCountIsAnotherEntry() throws {
        let cache = ScramSaltedKeys(capacity: 8)
        let keys = ScramKeys(password: "right", salt: Array(0..<16), iterations: 4096)
        try login(password: "right", keys: keys, cache: cache, nonce: "a")
        // The cached keys of "right" never answer for "wrong" with the same salt.
        #expect(throws: ScramError.invalidProof) { try login(password: "wrong", keys: keys, cache: cache, nonce: "b") }
        // The password changed upstream: a new salt misses and derives the new verifier's keys.
        let changed = ScramKeys(password: "right", salt: Array(16..<32), iterations: 4096)
        try login(password: "right", keys: changed, cache: cache, nonce: "c")
        let more = ScramKeys(password: "right", salt: Array(0..<16), iterations: 5000)
        try login(password: "right", keys: more, cache: cache, nonce: "d")
        #expect(cache.count == 4)
    }

    @Test func aFullCacheStartsOverInsteadOfGrowing() {
        let cache = ScramSaltedKeys(capacity: 2)
        for n in 0..<5 { _ = cache.keys(password: Array("p\(n)".utf8), salt: [1, 2, 3], iterations: 1) }
        #expect(cache.count <= 2)
        // What it still holds is right.
        let again = cache.keys(password: Array("p4".utf8), salt: [1, 2, 3], iterations: 1)
        #expect(again == ScramSaltedKeys(capacity: 1).keys(password: Array("p4".utf8), salt: [1, 2, 3], iterations: 1))
    }
}
