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
        assert(loop.isInLoopThread, "CatalogLoader.load called off its loop's thread")
        let job = CatalogLoadJob(params: params, handle: loop.handle, completion: CompletionBox(completion))
        if !job.start() {
            loop.runBeforeNextWait { completion(.failure(.threadUnavailable)) }
        }
    }

    /// Connects, runs the script and builds the snapshot, blocking the calling thread. The
    /// loader's thread body; usable directly by tools and tests that own their thread.
    public static func loadBlocking(_ params: CatalogConnectionParameters) -> Result<CatalogSnapshot, CatalogLoadError> {
        let keywords = ["host", "port", "dbname", "user", "password", "sslmode", "connect_timeout", "application_name"]
        let values: [String?] = [params.host, String(params.port), params.dbname, params.user, params.password,
                                 params.sslMode, String(params.connectTimeout), "pgstash catalog loader"]
        let conn = withCStrings(keywords.map(Optional.some)) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 0) }
        }
        guard let conn else { return .failure(.connectionFailed("libpq could not allocate a connection")) }
        defer { PQfinish(conn) }
        guard PQstatus(conn) == CONNECTION_OK else { return .failure(.connectionFailed(message(PQerrorMessage(conn)))) }
        switch run(CatalogQuery.script, on: conn) {
        case .failure(let error): return .failure(error)
        case .success(let results):
            do throws(CatalogQueryError) {
                return .success(try CatalogQuery.snapshot(from: results))
            } catch {
                return .failure(.unexpectedRows(error))
            }
        }
    }

    /// Sends `sql` as one simple query and collects the rows of each result that has rows.
    private static func run(_ sql: String, on conn: OpaquePointer) -> Result<[[[String?]]], CatalogLoadError> {
        guard PQsendQuery(conn, sql) == 1 else { return .failure(.queryFailed(message(PQerrorMessage(conn)))) }
        var results: [[[String?]]] = []
        var failure: String?
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            switch PQresultStatus(r) {
            case PGRES_TUPLES_OK:
                let (rows, columns) = (PQntuples(r), PQnfields(r))
                var set: [[String?]] = []
                set.reserveCapacity(Int(rows))
                for i in 0..<rows {
                    set.append((0..<columns).map { j in
                        PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j))
                    })
                }
                results.append(set)
            case PGRES_COMMAND_OK:
                break
            default:
                if failure == nil { failure = message(PQresultErrorMessage(r)) }
            }
        }
        if let failure { return .failure(.queryFailed(failure)) }
        return .success(results)
    }

    private static func message(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "unknown libpq error" }
        var s = String(cString: p)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }

    /// Calls `body` with a NULL-terminated array of C strings (nil entries stay NULL).
    private static func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
        defer { for c in copies { free(c) } }
        let pointers = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// Carries the loop-confined completion through the background thread, which never touches
/// it: `deliver` runs on the loop thread and releases the closure there, so whatever it
/// captured is never freed on the background thread (which may drop the box last).
private final class CompletionBox: @unchecked Sendable {
    private var body: CatalogLoader.Completion?
    init(_ body: @escaping CatalogLoader.Completion) { self.body = body }

    func deliver(_ result: Result<CatalogSnapshot, CatalogLoadError>) {
        let b = body
        body = nil
        b?(result)
    }
}

/// One catalog load on a detached thread, answered through the loop's handle.
private final class CatalogLoadJob {
    let params: CatalogConnectionParameters
    let handle: EventLoopHandle
    let completion: CompletionBox

    init(params: CatalogConnectionParameters, handle: EventLoopHandle, completion: CompletionBox) {
        self.params = params
        self.handle = handle
        self.completion = completion
    }

    /// Starts the thread; false if the system refused one.
    func start() -> Bool {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<CatalogLoadJob>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<CatalogLoadJob>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private func run() {
        let result = CatalogLoader.loadBlocking(params)
        let completion = completion
        handle.execute { completion.deliver(result) }
    }
}
