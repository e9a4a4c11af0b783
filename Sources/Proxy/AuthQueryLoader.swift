import CLibPQ
import EventLoop
import ProxyConfig
import ProxyCore

/// Where, as whom and what `AuthQueryLoader` asks: `[auth] auth_user` on one database's
/// upstream, running `auth_query`.
struct AuthQueryParameters: Sendable, Equatable {
    var host: String
    var port: Int
    var dbname: String
    var authUser: String
    /// Plain password; nil: none (trust, or libpq's own `~/.pgpass`).
    var password: String?
    var sslmode: String
    var connectTimeout: Int
    var query: String
    /// `[auth] type` is scram-sha-256: a plain password found gets SCRAM keys.
    var scram: Bool

    /// For lookups on the `[databases.NAME]` entry `database`; nil when there is none or
    /// `auth_user` is unset. `auth_user`'s password is its auth-file secret (if plain), else the
    /// entry's `password`.
    init?(database: String, in config: ProxyConfiguration) {
        guard let authUser = config.auth.authUser, let db = config.databases[database] else { return nil }
        let fileSecret = config.auth.users[authUser].flatMap { AuthSecretKind(secret: $0) == .plain ? $0 : nil }
        host = db.host
        port = db.port
        dbname = db.dbname
        self.authUser = authUser
        password = fileSecret ?? db.password
        sslmode = db.tls.sslmode.rawValue
        connectTimeout = max(1, Int(config.pool.connectTimeout.rounded(.up)))
        query = config.auth.authQuery
        scram = config.auth.type == .scramSHA256
    }
}

/// Runs `auth_query` for one user without blocking the event loop: a background thread
/// (`BackgroundThread`) opens a libpq connection as `auth_user`, runs the query with the user
/// name as `$1`, closes it and prepares the answer (including PBKDF2 for a plain password).
/// One connection per lookup: lookups are rare (answers are cached for `auth_cache_ttl`,
/// concurrent logins of one user share one), and no connection sits open as `auth_user`.
enum AuthQueryLoader {
    static func lookUp(_ params: AuthQueryParameters, user: String, on loop: EventLoop,
                       completion: @escaping (Result<AuthQueryAnswer, AuthQueryError>) -> Void) {
        if !BackgroundThread.run(on: loop, { lookUpBlocking(params, user: user) }, completion: completion) {
            loop.runBeforeNextWait { completion(.failure(.overloaded("cannot start a thread for auth_query"))) }
        }
    }

    /// The thread's body: connect, query, read the row.
    static func lookUpBlocking(_ params: AuthQueryParameters, user: String) -> Result<AuthQueryAnswer, AuthQueryError> {
        let conn: OpaquePointer
        switch LibPQ.connect([("host", params.host), ("port", String(params.port)), ("dbname", params.dbname),
                              ("user", params.authUser), ("password", params.password), ("sslmode", params.sslmode),
                              ("connect_timeout", String(params.connectTimeout)),
                              ("options", "-c statement_timeout=10000"),
                              ("application_name", "pgstash auth_query")]) {
        case .failure(let e): return .failure(.connectionFailed(e.message))
        case .success(let c): conn = c
        }
        defer { PQfinish(conn) }
        switch LibPQ.query(params.query, parameters: [user], on: conn) {
        case .failure(let e): return .failure(.queryFailed(e.message))
        case .success(let results):
            return Result { () throws(AuthQueryError) in
                try AuthQueryAnswer.from(rows: results.first ?? [], user: user, scram: params.scram) {
                    CredentialStore.pbkdf2($0, Crypto.randomBytes(16))
                }
            }
        }
    }
}
