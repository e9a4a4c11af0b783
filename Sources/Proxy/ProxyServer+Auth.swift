import EventLoop
import ProxyConfig
import ProxyCore

/// Pools by login, and what authentication needs from the process (credentials, mock keys).
extension ProxyServer {
    /// The pool that `user`, once authenticated, shares for `database`; nil when pgstash does
    /// not serve that database. Call it only after authentication succeeded: every call may
    /// create a pool, which lives as long as the process.
    ///
    /// Pools are keyed by whatever decides their settings: the database, the upstream user, and
    /// the client user when `[pool.users.NAME]` has overrides for it. Clients that map to one
    /// upstream user but have their own overrides (`mode = "session"`) get their own pool.
    ///
    /// `lookedUp`: what a client found by `auth_query` authenticated with. When the pool logs
    /// in as that same user (no `[databases.NAME] user`), its servers log in with it: the md5
    /// hash, or the SCRAM keys recovered from the client's proof. The newest login's replaces
    /// the pool's (the password may have changed).
    func pool(database: String, user: String, lookedUp: LookedUpSecret? = nil) -> PoolDriver? {
        guard let db = config.databases[database] else { return nil }
        let upstreamUser = db.user ?? user
        let key = PoolKey(database: database, user: upstreamUser,
                          overridesOf: config.pool.users[user] != nil ? user : nil)
        let passThrough = db.user == nil ? lookedUp : nil
        if let p = pools[key] {
            if let passThrough { p.upstreamSecret = passThrough }
            return p
        }
        let password = db.password ?? config.auth.users[upstreamUser]
        let p = PoolDriver(key: key, database: db, upstreamPassword: password, configuration: config,
                           server: self, idBase: nextPoolIndex * 1_000_000, idStride: 1)
        p.upstreamSecret = passThrough
        nextPoolIndex += 1
        pools[key] = p
        if admin.isPaused(database) { p.pause() }
        return p
    }

    /// A fresh authenticator for `user`: its credential from the auth file or auth_query, or
    /// mock keys (one HMAC, no PBKDF2) when the name is unknown (`credential` nil).
    /// `channelBinding`: the client connection's tls-server-end-point data (SCRAM-SHA-256-PLUS).
    func authenticator(user: String, credential: StoredCredential?, channelBinding: [UInt8]?) -> ClientAuthenticator {
        ClientAuthenticator(type: config.auth.type, user: user, credential: credential,
                            nonce: Crypto.base64(Crypto.randomBytes(18)), salt: Crypto.randomBytes(4),
                            mockKeys: credentials.mock.scramKeys(for: user), channelBinding: channelBinding)
    }
}
