import CachePolicy
import CLibPQ
import EventLoop
import Glibc
import ProxyConfig

/// Where and as whom `CatalogLoader` logs in to read one database's catalog.
public struct CatalogConnectionParameters: Sendable, Equatable {
    /// Host name, IP address, or a Unix-socket directory (starts with `/`).
    public var host: String
    public var port: Int
    public var dbname: String
    public var user: String
    /// Plain password; nil: none (trust, peer, or libpq's own `~/.pgpass`).
    public var password: String?
    /// libpq `sslmode` (`disable`, `prefer`, `require`…).
    public var sslMode: String
    /// Seconds libpq waits for the connection (`connect_timeout`).
    public var connectTimeout: Int

    public init(host: String, port: Int, dbname: String, user: String, password: String?,
                sslMode: String = "prefer", connectTimeout: Int = 10) {
        self.host = host
        self.port = port
        self.dbname = dbname
        self.user = user
        self.password = password
        self.sslMode = sslMode
        self.connectTimeout = connectTimeout
    }

    /// The upstream login the pools of `database` use (`ProxyServer.pool(database:user:)`):
    /// the entry's `user`, else `clientUser`; the entry's `password`, else the auth file's
    /// secret for that user. Nil when pgstash does not serve `database`, or when the entry has
    /// no `user` and no `clientUser` is given.
    public init?(database: String, in config: ProxyConfiguration, clientUser: String? = nil) {
        guard let db = config.databases[database], let user = db.user ?? clientUser else { return nil }
        self.init(host: db.host, port: db.port, dbname: db.dbname, user: user,
                  password: db.password ?? config.auth.users[user])
    }
}

/// Why a catalog could not be read.
public enum CatalogLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libpq could not connect or log in (its message).
    case connectionFailed(String)
    /// The catalog queries failed (PostgreSQL's message).
    case queryFailed(String)
    /// The rows do not have the shape `CatalogQuery` expects.
    case unexpectedRows(CatalogQueryError)
    /// No background thread could be started.
    case threadUnavailable

    public var description: String {
        switch self {
        case .connectionFailed(let m): return "cannot connect to read the catalog: \(m)"
        case .queryFailed(let m): return "the catalog query failed: \(m)"
        case .unexpectedRows(let e): return "\(e)"
        case .threadUnavailable: return "cannot start a thread to read the catalog"
        }
    }
}

/// Reads a database's `CatalogSnapshot` without blocking the event loop: a short-lived
/// background thread opens a libpq connection, runs `CatalogQuery.script` (one round trip, one
/// `REPEATABLE READ` transaction), closes it and builds the snapshot; the result comes back on
/// the loop thread through the loop's eventfd (`EventLoopHandle.execute`), as `AsyncResolver`'s
/// answers do.
///
/// ```swift
/// let params = CatalogConnectionParameters(database: "shop", in: config, clientUser: "app")!
/// CatalogLoader.load(params, on: loop) { result in        // on the loop thread
///     switch result {
///     case .success(let snapshot): catalogs["shop"] = snapshot
///     case .failure(let error): log.warning("catalog of shop: \(error)")  // keep bypassing
///     }
/// }
/// ```
///
/// Call it at start, after a reload and after DDL pgstash forwarded has committed (docs/caching.md);
/// until a snapshot exists the policy has nothing to decide with, so reads bypass the cache.
/// Each call is one connection and one thread; the caller coalesces requests for one database.
/// The thread runs to its end even if nobody waits any more: `connect_timeout` and the
/// script's `statement_timeout` (60 s) bound it.
public enum CatalogLoader {
    public typealias Completion = (Result<CatalogSnapshot, CatalogLoadError>) -> Void

    /// Loads the catalog of `params.dbname` and calls `completion` exactly once on `loop`'s
    /// thread, never from inside this call. Call it on the loop thread.
    public static func load(_ params: CatalogConnectionParameters, on loop: EventLoop,
                            completion: @escaping Completion) {
        if !BackgroundThread.run(on: loop, { loadBlocking(params) }, completion: completion) {
            loop.runBeforeNextWait { completion(.failure(.threadUnavailable)) }
        }
    }

    /// Connects, runs the script and builds the snapshot, blocking the calling thread. The
    /// loader's thread body; usable directly by tools and tests that own their thread.
    public static func loadBlocking(_ params: CatalogConnectionParameters) -> Result<CatalogSnapshot, CatalogLoadError> {
        let conn: OpaquePointer
        switch LibPQ.connect([("host", params.host), ("port", String(params.port)), ("dbname", params.dbname),
                              ("user", params.user), ("password", params.password), ("sslmode", params.sslMode),
                              ("connect_timeout", String(params.connectTimeout)),
                              ("application_name", "pgstash catalog loader")]) {
        case .failure(let e): return .failure(.connectionFailed(e.message))
        case .success(let c): conn = c
        }
        defer { PQfinish(conn) }
        switch LibPQ.query(CatalogQuery.script, on: conn) {
        case .failure(let e): return .failure(.queryFailed(e.message))
        case .success(let results):
            do throws(CatalogQueryError) {
                return .success(try CatalogQuery.snapshot(from: results))
            } catch {
                return .failure(.unexpectedRows(error))
            }
        }
    }
}
