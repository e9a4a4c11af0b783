import CLibPQ
import Foundation
import Glibc
import PostgresWire

/// Helpers of the pooling tests (issue 3): direct libpq connections to PostgreSQL that
/// bypass pgstash, a watcher of pgstash's upstream backends, throwaway databases, the Python
/// client scripts under `clients/`, and a pgstash started in front of one database.

/// A direct libpq connection to the test PostgreSQL, bypassing pgstash.
final class DirectConnection: @unchecked Sendable {
    private let conn: OpaquePointer

    init(_ env: TestEnvironment, db: String = "postgres") throws {
        guard let c = PQconnectdb(env.directDSN(db: db) + " application_name=pgstash_pooling_tests") else {
            throw TestFailure("PQconnectdb returned nil")
        }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(c))
            PQfinish(c)
            throw TestFailure("direct connection to \(db) failed: \(message)")
        }
        conn = c
    }

    deinit { PQfinish(conn) }

    /// Runs `sql` (simple protocol); returns its rows as text, NULL as nil.
    @discardableResult
    func query(_ sql: String) throws -> [[String?]] {
        guard let r = PQexec(conn, sql) else { throw TestFailure("PQexec returned nil for \(sql)") }
        defer { PQclear(r) }
        let status = PQresultStatus(r)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw TestFailure("direct query failed: \(sql): \(String(cString: PQresultErrorMessage(r)))")
        }
        var rows: [[String?]] = []
        for i in 0..<PQntuples(r) {
            rows.append((0..<PQnfields(r)).map { j in
                PQgetisnull(r, i, j) == 1 ? nil : String(cString: PQgetvalue(r, i, j))
            })
        }
        return rows
    }

    /// The first column of the first row.
    func value(_ sql: String) throws -> String? { try query(sql).first?.first ?? nil }

    func int(_ sql: String) throws -> Int { Int(try value(sql) ?? "") ?? -1 }
}

/// Creates a database with a unique name for one test; `drop()` removes it (FORCE).
struct TestDatabase {
    let name: String
    let env: TestEnvironment

    init(_ env: TestEnvironment, prefix: String) throws {
        self.env = env
        name = "pooling_\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
        try DirectConnection(env).query("CREATE DATABASE \(name)")
    }

    /// Upstream URL for `pgstash --upstream`: pgstash serves exactly this database, so every
    /// backend of it in pg_stat_activity is one of pgstash's servers (or a direct check).
    var upstreamURL: String { "postgresql://postgres:\(env.pgPassword)@127.0.0.1:\(env.pgPort)/\(name)" }

    func connect() throws -> DirectConnection { try DirectConnection(env, db: name) }

    func drop() {
        _ = try? DirectConnection(env).query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

/// Starts pgstash in front of `db` only.
func startPgStash(_ env: TestEnvironment, _ db: TestDatabase, _ overrides: [String]) throws -> PgStashProcess {
    try PgStashProcess(env, overrides: overrides, upstream: db.upstreamURL)
}

/// Polls pg_stat_activity directly (every ~20 ms, on its own thread) and remembers the
/// largest number of client backends connected to one database.
final class BackendWatcher: @unchecked Sendable {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var running = true
        var finished = false
        var max = 0
        var samples = 0
        var error: String?
        func with<T>(_ f: (State) -> T) -> T { lock.lock(); defer { lock.unlock() }; return f(self) }
    }
    private let state = State()

    init(_ env: TestEnvironment, database: String) throws {
        let conn = try DirectConnection(env)
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = '\(database)' AND backend_type = 'client backend'"
        let state = self.state
        let thread = Thread {
            while state.with({ $0.running }) {
                do {
                    let n = try conn.int(sql)
                    state.with { $0.max = Swift.max($0.max, n); $0.samples += 1 }
                } catch {
                    state.with { $0.error = "\(error)" }
                    break
                }
                usleep(20_000)
            }
            state.with { $0.finished = true }
        }
        thread.start()
    }

    /// Stops polling; returns the largest count seen, the number of samples and any error.
    func stop() -> (max: Int, samples: Int, error: String?) {
        state.with { $0.running = false }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !state.with({ $0.finished }) { usleep(5_000) }
        return state.with { ($0.max, $0.samples, $0.error) }
    }
}

/// The folder of the Python client scripts.
let clientsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("clients").path

/// Runs `clients/<script>` with Debian's /usr/bin/python3 (the one with psycopg and asyncpg).
func runPython(_ script: String, _ args: [String], timeout: Double) throws -> ProcessResult {
    try runCommand(["/usr/bin/python3", "\(clientsDirectory)/\(script)"] + args, timeout: timeout)
}

/// The JSON object a client script printed as its last stdout line.
func lastJSON(_ r: ProcessResult) throws -> [String: Any] {
    guard let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
          let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw TestFailure("no JSON summary (status \(r.status))\nstdout: \(r.stdout.suffix(2000))\nstderr: \(r.stderr.suffix(3000))")
    }
    return obj
}

/// A libpq keyword/value DSN of pgstash for the Python scripts.
func scriptDSN(_ p: PgStashProcess, _ db: TestDatabase, extra: String = "") -> String {
    "host=127.0.0.1 port=\(p.port) user=postgres password=\(db.env.pgPassword) dbname=\(db.name) sslmode=disable \(extra)"
}

/// The last lines of pgstash's log, for failure messages.
func logTail(_ p: PgStashProcess, lines: Int = 40) -> String {
    p.log.split(separator: "\n").suffix(lines).joined(separator: "\n")
}

/// A child process whose stdout is read line by line (for scripts that must be killed
/// in the middle of what they do).
final class SpawnedProcess {
    let process: Process
    private let out = Pipe()
    private var buffer = [UInt8]()

    init(_ argv: [String]) throws {
        process = childProcess(argv)
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// The next stdout line, or nil after `timeout` seconds or at EOF.
    func readLine(timeout: Double) -> String? {
        let fd = out.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeFirst(nl + 1)
                return line
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&pfd, 1, Int32(left * 1000) + 1)
            if rc <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return nil }
            buffer += chunk[..<n]
        }
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill9() } }
}

extension [BackendMessage] {
    /// The first column of the first row.
    var firstValue: String? { rows.first?.first ?? nil }

    var notifications: [(channel: String, payload: String)] {
        compactMap { if case let .notificationResponse(_, channel, payload) = $0 { return (channel, payload) }; return nil }
    }

    /// A one-line summary of the errors, for failure messages.
    var errorSummary: String {
        errors.map { "\($0.sqlState ?? "?") \($0.message ?? "")" }.joined(separator: "; ")
    }
}

extension WireClient {
    /// Logs in through pgstash as the test user or throws.
    static func connected(_ p: PgStashProcess, _ db: TestDatabase, timeout: Double = 10) throws -> WireClient {
        let c = try WireClient(port: p.port, timeout: timeout)
        switch c.login(user: "postgres", password: db.env.pgPassword, database: db.name) {
        case .ready: return c
        case .error(let f): throw TestFailure("login through pgstash failed: \(f.sqlState ?? "?") \(f.message ?? "")")
        case .closed: throw TestFailure("pgstash closed the connection during login\n\(logTail(p))")
        }
    }

    /// The backend pid of the server that runs this client's next statement.
    func backendPID() -> String? { query("SELECT pg_backend_pid()").firstValue }
}

extension WireClient {
    /// Runs `sql` through the extended protocol: Parse (into `statement`, "" for the unnamed
    /// one; nil to skip the Parse and run an existing statement), Bind, Describe, Execute,
    /// Sync. Returns every message up to ReadyForQuery.
    func extendedQuery(_ sql: String, statement: String? = "", name: String = "") -> [BackendMessage] {
        var out = ByteBuffer()
        if let statement {
            FrontendMessage.parse(name: statement, query: sql, parameterTypes: []).encode(into: &out)
        }
        FrontendMessage.bind(.init(portal: "", statement: statement ?? name, parameterFormats: [], parameters: [],
                                   resultFormats: [])).encode(into: &out)
        FrontendMessage.describe(kind: UInt8(ascii: "P"), name: "").encode(into: &out)
        FrontendMessage.execute(portal: "", maxRows: 0).encode(into: &out)
        FrontendMessage.sync.encode(into: &out)
        send(Array(out.readableView))
        return readUntilReady()
    }

    /// Binds and executes the existing prepared statement `name`.
    func executePrepared(_ name: String) -> [BackendMessage] { extendedQuery("", statement: nil, name: name) }

    func readUntilReady() -> [BackendMessage] {
        var messages: [BackendMessage] = []
        while let m = receive() {
            messages.append(m)
            if case .readyForQuery = m { break }
        }
        return messages
    }
}
