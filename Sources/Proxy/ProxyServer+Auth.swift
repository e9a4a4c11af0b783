import EventLoop
import ProxyConfig
import ProxyCore

/// Pools by login, and what authentication needs from the process (mock salts, verifiers).
extension ProxyServer {
    /// The pool clients of `database` logging in as `user` share.
    func pool(database: String, user: String) -> PoolDriver? {
        guard let db = config.databases[database] else { return nil }
        let upstreamUser = db.user ?? user
        let key = PoolKey(database: database, user: upstreamUser)
        if let p = pools[key] { return p }
        let password = db.password ?? config.auth.users[upstreamUser]
        let p = PoolDriver(key: key, database: db, upstreamPassword: password,
                           config: config.effectivePool(database: database, user: user),
                           server: self, idBase: nextPoolIndex * 1_000_000, idStride: 1)
        nextPoolIndex += 1
        pools[key] = p
        return p
    }


    /// The salt shown to an unknown user: stable for that name within this process.
    func mockSalt(for user: String) -> [UInt8] {
        Array(Crypto.sha256(mockSaltSecret + Array(user.utf8)).prefix(16))
    }

    /// A SCRAM verifier for a plain password from the auth file, derived once per user (the
    /// 4096 PBKDF2 rounds would otherwise run at every login). Verifiers and md5 hashes
    /// are returned unchanged.
    func scramVerifier(user: String, secret: String) -> String {
        guard ScramKeys(verifier: secret) == nil, !MD5Password.isStoredHash(secret) else { return secret }
        if let d = derivedVerifiers[user], d.secret == secret { return d.verifier }
        let v = ScramKeys(password: secret, salt: Crypto.randomBytes(16), iterations: 4096).verifier
        derivedVerifiers[user] = (secret, v)
        return v
    }
}
