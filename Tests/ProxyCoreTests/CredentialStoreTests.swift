import PostgresWire
import ProxyConfig
import ProxyCore
import Synchronization
import Testing

/// Counts key derivations (the expensive PBKDF2 step) a `CredentialStore` asks for.
final class DerivationCounter: Sendable {
    private let count = Mutex(0)
    var calls: Int { count.withLock { $0 } }

    /// A derivation that counts its calls (and derives real keys, so logins still work).
    var derive: CredentialStore.KeyDerivation {
        { password, salt in
            self.count.withLock { $0 += 1 }
            return CredentialStore.pbkdf2(password, salt)
        }
    }
}

/// When keys are derived (at load, never at login), and what an unknown user is shown.
@Suite("CredentialStore")
struct CredentialStoreTests {
    static let mock = MockCredentials(secret: Array(repeating: 9, count: 32))
    static let verifier = ScramTests.postgresVerifier      // password "pencil"
    static let md5Hash = "md5ee69efad287c7423caf0b3229d71f567"

    static func auth(_ type: AuthType, _ users: [String: String]) -> AuthConfig {
        var a = AuthConfig()
        a.type = type
        a.users = users
        return a
    }

    static func store(_ auth: AuthConfig, _ counter: DerivationCounter) -> CredentialStore {
        CredentialStore(auth: auth, mock: mock, derive: counter.derive, newSalt: { Array(1...16) })
    }

    // MARK: Derivation at load and reload

    @Test func loadDerivesOncePerPlainPasswordAndNeverForStoredForms() {
        let counter = DerivationCounter()
        let s = Self.store(Self.auth(.scramSHA256, ["alice": "pencil", "bob": "secret", "carol": Self.verifier,
                                                    "dave": Self.md5Hash]), counter)
        #expect(counter.calls == 2)
        #expect(s.credential(for: "alice")?.scramKeys == ScramKeys(password: "pencil", salt: Array(1...16), iterations: 4096))
        #expect(s.credential(for: "carol")?.scramKeys == ScramKeys(verifier: Self.verifier))
        #expect(s.credential(for: "dave") == StoredCredential(md5Secret: Self.md5Hash, scramKeys: nil))
    }

    @Test(arguments: [AuthType.md5, .trust])
    func noDerivationUnlessSCRAMIsConfigured(type: AuthType) {
        let counter = DerivationCounter()
        _ = Self.store(Self.auth(type, ["alice": "pencil"]), counter)
        #expect(counter.calls == 0)
    }

    @Test func reloadDerivesOnlyWhatChanged() {
        let counter = DerivationCounter()
        var s = Self.store(Self.auth(.scramSHA256, ["alice": "pencil", "bob": "secret"]), counter)
        let alice = s.credential(for: "alice")
        s.update(auth: Self.auth(.scramSHA256, ["alice": "pencil", "bob": "changed", "erin": "new"]))
        #expect(counter.calls == 4)                       // 2 at load, then bob and erin
        #expect(s.credential(for: "alice") == alice)
        s.update(auth: Self.auth(.scramSHA256, ["alice": "pencil"]))
        #expect(counter.calls == 4)
        #expect(s.credential(for: "bob") == nil)
    }

    @Test func switchingToSCRAMDerivesAtReload() {
        let counter = DerivationCounter()
        var s = Self.store(Self.auth(.md5, ["alice": "pencil"]), counter)
        #expect(s.credential(for: "alice")?.scramKeys == nil)
        s.update(auth: Self.auth(.scramSHA256, ["alice": "pencil"]))
        #expect(counter.calls == 1)
        #expect(s.credential(for: "alice")?.scramKeys != nil)
    }

    /// The fault this guards against: every StartupMessage for an unknown name ran 4096
    /// PBKDF2 rounds on the event loop. Logins, known or not, now derive nothing.
    @Test func loginsOfKnownAndUnknownUsersDeriveNothing() throws {
        let counter = DerivationCounter()
        let s = Self.store(Self.auth(.scramSHA256, ["alice": "pencil"]), counter)
        let atLoad = counter.calls
        for user in ["alice", "mallory", "mallory", "trudy"] {
            var auth = ClientAuthenticator(type: .scramSHA256, user: user, credential: s.credential(for: user),
                                           nonce: ClientAuthenticatorTests.nonce, salt: Array(1...4),
                                           mockKeys: s.mock.scramKeys(for: user))
            let (last, _) = try ClientAuthenticatorTests.scramLogin(&auth, password: "pencil")
            if user == "alice" {
                guard case .succeed = last else { Issue.record("alice: \(last)"); continue }
            } else {
                #expect(last == ClientAuthenticatorTests.failed(user))
            }
        }
        #expect(counter.calls == atLoad)
    }

    // MARK: Mock keys

    @Test func mockSaltIsStablePerNameAndDiffersAcrossNamesAndProcesses() {
        let other = MockCredentials(secret: Array(repeating: 1, count: 32))
        #expect(Self.mock.scramKeys(for: "mallory") == Self.mock.scramKeys(for: "mallory"))
        #expect(Self.mock.scramKeys(for: "mallory").salt != Self.mock.scramKeys(for: "trudy").salt)
        #expect(Self.mock.scramKeys(for: "mallory").salt != other.scramKeys(for: "mallory").salt)
    }

    /// A verifier PostgreSQL made has a 16-byte salt and 4096 iterations: so does the mock.
    @Test func mockKeysLookLikeAStoredVerifier() throws {
        let real = try #require(ScramKeys(verifier: Self.verifier))
        let fake = Self.mock.scramKeys(for: "mallory")
        #expect(fake.salt.count == real.salt.count)
        #expect(fake.iterations == real.iterations)
    }

    // MARK: Same shape for a wrong password and an unknown user

    /// Every message pgstash sends, with the salt and nonces masked: what a client can compare.
    static func trace(_ type: AuthType, user: String, secret: String?, password: String) throws -> [String] {
        let credential = secret.map { StoredCredential(secret: $0, scram: type == .scramSHA256) { CredentialStore.pbkdf2($0, Array(1...16)) } }
        var auth = ClientAuthenticator(type: type, user: user, credential: credential, nonce: "srv",
                                       salt: Array(1...16), mockKeys: mock.scramKeys(for: user))
        var out: [String] = []
        func record(_ a: ClientAuthenticator.Action) throws -> [UInt8]? {
            switch a {
            case .send(let frame):
                let m = try backendMessage(frame)
                if case .authentication(.saslContinue(let first)) = m {
                    out.append(text(first).split(separator: ",").map { "\($0.prefix(2))\($0.count)" }.joined(separator: ","))
                    return first
                }
                out.append("\(frame.count) bytes: \(frame[0]) \(frame[5...8])")
                return nil
            case .succeed: out.append("succeed")
            case .fail(let state, let message): out.append("\(state) \(message)")
            }
            return nil
        }
        _ = try record(auth.start())
        if type == .md5 {
            _ = try record(auth.passwordDataReceived(cString(MD5Password.response(user: user, secret: password, salt: [1, 2, 3, 4]))))
            return out
        }
        var client = ScramClient(password: password, clientNonce: "cli")
        guard let first = try record(auth.passwordDataReceived(saslInitialBody("SCRAM-SHA-256", client.clientFirstMessage))) else {
            return out
        }
        _ = try record(auth.passwordDataReceived(try client.serverFirstReceived(first)))
        return out
    }

    @Test(arguments: [AuthType.scramSHA256, .md5])
    func unknownUserFailsExactlyLikeAWrongPassword(type: AuthType) throws {
        let wrong = try Self.trace(type, user: "alice", secret: "pencil", password: "wrong")
        let unknown = try Self.trace(type, user: "alice", secret: nil, password: "wrong")
        #expect(wrong == unknown)
        #expect(wrong.last == "28P01 password authentication failed for user \"alice\"")
        #expect(wrong.count == (type == .md5 ? 2 : 3))
    }

    /// An unknown user who happens to know how the mock keys are made still fails.
    @Test func mockKeysNeverAuthenticate() throws {
        var auth = ClientAuthenticator(type: .md5, user: "mallory", credential: nil, nonce: "n",
                                       salt: Array(1...4), mockKeys: Self.mock.scramKeys(for: "mallory"))
        _ = auth.start()
        let guess = MD5Password.response(user: "mallory", secret: Crypto.hex(Self.mock.scramKeys(for: "mallory").salt),
                                         salt: [1, 2, 3, 4])
        #expect(auth.passwordDataReceived(cString(guess)) == ClientAuthenticatorTests.failed("mallory"))
    }
}
