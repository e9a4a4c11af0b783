import CLibPQ
import EventLoop
import Glibc
import ProxyConfig
import ProxyCore

/// Where, as whom and what `AuthQueryLoader` asks: `[auth] auth_user` on one database's
/// upstream, running `auth_query`.
struct AuthQueryParameters: Sendable, Equatable {
    /// The connection's settings: lookups with equal ones share idle connections.
    struct Login: Sendable, Hashable {
        var host: String
        var port: Int
        var dbname: String
        var authUser: String
        /// Plain password; nil: none (trust, or libpq's own `~/.pgpass`).
        var password: String?
        /// The database entry's `sslmode`, `sslrootcert`, `sslcert`, `sslkey` (docs/tls.md).
        var tls: UpstreamTLSConfig
        var connectTimeout: Int
    }

    var login: Login
    var query: String
    /// `[auth] type` is scram-sha-256: a plain password found gets SCRAM keys.
    var scram: Bool

    /// For lookups on the `[databases.NAME]` entry `database`; nil when there is none or
    /// `auth_user` is unset. `auth_user`'s password is its auth-file secret (if plain), else the
    /// entry's `password`.
    init?(database: String, in config: ProxyConfiguration) {
        guard let authUser = config.auth.authUser, let db = config.databases[database] else { return nil }
        let fileSecret = config.auth.users[authUser].flatMap { AuthSecretKind(secret: $0) == .plain ? $0 : nil }
        login = Login(host: db.host, port: db.port, dbname: db.dbname, authUser: authUser,
                      password: fileSecret ?? db.password, tls: db.tls,
                      connectTimeout: max(1, Int(config.pool.connectTimeout.rounded(.up))))
        query = config.auth.authQuery
        scram = config.auth.type == .scramSHA256
    }
}

/// What one lookup found, and whether it had to open a connection.
struct AuthQueryLookup: Sendable {
    var outcome: Result<AuthQueryAnswer, AuthQueryError>
    var connectionsOpened: Int
}

/// libpq connections of `auth_user` kept open between lookups (at most 8 per login setting,
/// closed after 60 s unused), so that a lookup is one query, not a login.
typealias AuthQueryConnections = IdleConnections<OpaquePointer, AuthQueryParameters.Login>

/// Runs `auth_query` for one user without blocking the event loop: a background thread
/// (`BackgroundThread`) takes an idle connection as `auth_user` (or opens one), runs the
/// query with the user name as `$1`, puts the connection back and prepares the answer
/// (including PBKDF2 for a plain password). Concurrent logins of one user share one lookup
/// (`AuthQueryCache`), and answers are cached for `auth_cache_ttl`.
enum AuthQueryLoader {
    static func lookUp(_ params: AuthQueryParameters, user: String, connections: AuthQueryConnections,
                       on loop: EventLoop, completion: @escaping (AuthQueryLookup) -> Void) {
        let work: @Sendable () -> AuthQueryLookup = { lookUpBlocking(params, user: user, connections: connections) }
        if !BackgroundThread.run(on: loop, work, completion: completion) {
            loop.runBeforeNextWait {
                completion(AuthQueryLookup(outcome: .failure(.overloaded("cannot start a thread for auth_query")), connectionsOpened: 0))
            }
        }
    }

    /// The thread's body. A connection taken from `connections` that turns out broken
    /// (PostgreSQL restarted) is replaced once.
    static func lookUpBlocking(_ params: AuthQueryParameters, user: String,
                               connections: AuthQueryConnections) -> AuthQueryLookup {
        let (idle, expired) = connections.take(params.login, now: monotonicNow())
        for c in expired { PQfinish(c) }
        var opened = 0
        var conn: OpaquePointer
        if let idle {
            conn = idle
        } else {
            switch connect(params.login) {
            case .failure(let e): return AuthQueryLookup(outcome: .failure(.connectionFailed(e.message)), connectionsOpened: 0)
            case .success(let c): conn = c
            }
            opened += 1
        }
        var rows = LibPQ.query(params.query, parameters: [user], on: conn)
        if case .failure = rows, idle != nil, PQstatus(conn) != CONNECTION_OK {
            PQfinish(conn)
            switch connect(params.login) {
            case .failure(let e): return AuthQueryLookup(outcome: .failure(.connectionFailed(e.message)), connectionsOpened: opened)
            case .success(let c): conn = c
            }
            opened += 1
            rows = LibPQ.query(params.query, parameters: [user], on: conn)
        }
        if PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE
            || !connections.put(conn, for: params.login, now: monotonicNow()) {
            PQfinish(conn)
        }
        switch rows {
        case .failure(let e):
            return AuthQueryLookup(outcome: .failure(.queryFailed(e.message)), connectionsOpened: opened)
        case .success(let results):
            let outcome = Result { () throws(AuthQueryError) in
                try AuthQueryAnswer.from(rows: results.first ?? [], user: user, scram: params.scram) {
                    CredentialStore.pbkdf2($0, Crypto.randomBytes(16))
                }
            }
            return AuthQueryLookup(outcome: outcome, connectionsOpened: opened)
        }
    }

    private static func connect(_ login: AuthQueryParameters.Login) -> Result<OpaquePointer, LibPQError> {
        LibPQ.connect([("host", login.host), ("port", String(login.port)), ("dbname", login.dbname),
                       ("user", login.authUser), ("password", login.password),
                       ("sslmode", login.tls.sslmode.rawValue), ("sslrootcert", login.tls.sslrootcert),
                       ("sslcert", login.tls.sslcert), ("sslkey", login.tls.sslkey),
                       ("connect_timeout", String(login.connectTimeout)),
                       ("options", "-c statement_timeout=10000"),
                       ("application_name", "pgstash auth_query")])
    }

    private static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
