import Foundation
import Glibc
import PostgresWire

/// A PostgreSQL 15 of one test, which the test may stop, start and restart (the shared test
/// server is never touched). Made by `scripts/pg.sh` as `make test` makes the shared one; the
/// data folder is initialised once per run and reused, the server is stopped on release.
final class OwnPostgres: @unchecked Sendable {
    let port: Int
    let base: String
    let password = "secret"
    static let pgBin = "/usr/lib/postgresql/15/bin"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pg.sh").path

    /// Creates the data folder if needed and, when `start`, starts the server on a free port.
    init(_ env: TestEnvironment, start: Bool = true) throws {
        base = "\(env.tmp)/faults-pg"
        port = freePort()
        // pg.sh up initialises (once) and starts; a test wanting it down stops it again.
        try Self.spawn(["env", "PGPASS=\(password)", Self.script, "up", base, "\(port)"], log: "\(env.tmp)/faults-pg.out")
        if !start { try stop() }
    }

    deinit { try? Self.spawn([Self.script, "down", base], log: "/dev/null") }

    private func pgCtl(_ args: [String]) throws {
        var argv = ["\(Self.pgBin)/pg_ctl", "-D", "\(base)/data"] + args
        if getuid() == 0 { argv = ["runuser", "-u", "postgres", "--"] + argv }
        try Self.spawn(argv, log: "\(base)/pg_ctl.out")
    }

    /// Runs `argv` to completion with output to `log`, by posix_spawn and waitpid: Foundation's
    /// Process never saw `pg.sh` (runuser, then a daemonised postmaster) end, and hung the test.
    /// The child gets an empty signal mask (test threads block signals; the postmaster would
    /// inherit that).
    static func spawn(_ argv: [String], log: String) throws {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cargs = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cargs, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(argv[0]) failed: \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw TestFailure("\(argv.joined(separator: " ")) exited with status \(status): \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? "")")
        }
    }

    /// `pg_ctl restart -m fast -w`: returns once PostgreSQL accepts connections again.
    func restart() throws { try pgCtl(["-l", "\(base)/log/server.log", "-m", "fast", "-w", "-t", "60", "restart"]) }
    func stop() throws { try pgCtl(["-m", "fast", "-w", "stop"]) }
    func start() throws { try pgCtl(["-l", "\(base)/log/server.log", "-w", "-t", "60", "start"]) }

    var upstreamURL: String { "postgresql://postgres:\(password)@127.0.0.1:\(port)/postgres" }
    var directDSN: String { "host=127.0.0.1 port=\(port) user=postgres password=\(password) dbname=postgres sslmode=disable" }
}

/// Errors seen by client threads, with the time each was seen.
final class ErrorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(at: Date, sqlState: String, message: String, worker: Int)] = []
    private var okCount = 0

    func record(_ f: ErrorFields, worker: Int) {
        lock.lock(); items.append((Date(), f.sqlState ?? "-", f.message ?? "", worker)); lock.unlock()
    }
    func ok() { lock.lock(); okCount += 1; lock.unlock() }
    var errors: [(at: Date, sqlState: String, message: String, worker: Int)] { lock.lock(); defer { lock.unlock() }; return items }
    var successes: Int { lock.lock(); defer { lock.unlock() }; return okCount }
}

/// A flag shared with worker threads.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    func stop() { lock.lock(); stopped = true; lock.unlock() }
    var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
}

/// Runs `body(i)` on `n` threads; `wait()` returns once all have finished.
final class Workers: @unchecked Sendable {
    private let group = DispatchGroup()
    init(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
        for i in 0..<n {
            group.enter()
            Thread { [group] in body(i); group.leave() }.start()
        }
    }
    func wait(timeout: Double = 60) -> Bool { group.wait(timeout: .now() + timeout) == .success }
}

/// Logs in through pgstash as postgres, or records why it could not.
func login(port: Int, password: String, database: String = "postgres", errors: ErrorLog? = nil, worker: Int = -1) -> WireClient? {
    guard let c = try? WireClient(port: port, timeout: 10) else { return nil }
    switch c.login(user: "postgres", password: password, database: database) {
    case .ready: return c
    case .error(let f): errors?.record(f, worker: worker); return nil
    case .closed: return nil
    }
}

/// Runs `sql` and reports its errors; true when it succeeded and the connection is still up
/// (a FATAL error or EOF means the connection is gone).
func runRecorded(_ c: WireClient, _ sql: String, errors: ErrorLog, worker: Int) -> Bool {
    let ms = c.query(sql)
    for f in ms.errors { errors.record(f, worker: worker) }
    guard case .readyForQuery? = ms.last, ms.errors.isEmpty else { return false }
    return true
}

/// Lines of pgstash's log that contain `text`.
func logLines(_ p: PgStashProcess, containing text: String) -> [Substring] {
    p.log.split(separator: "\n").filter { $0.contains(text) }
}
