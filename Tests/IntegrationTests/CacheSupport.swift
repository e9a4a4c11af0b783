import Foundation
import Glibc

/// A Redis server of a test's own (to kill, restart or flush), on a fixed port.
final class TestRedis: @unchecked Sendable {
    let port: Int
    let dir: String
    let extra: [String]

    init(_ env: TestEnvironment, extra: [String] = []) throws {
        port = freePort()
        dir = "\(env.tmp)/redis-\(port)"
        self.extra = extra
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try start()
    }

    func start() throws {
        try Self.spawnAndWait(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--daemonize", "yes", "--pidfile", "\(dir)/redis.pid", "--logfile", "\(dir)/redis.log",
                               "--dir", dir] + extra)
        for _ in 0..<100 {
            if canConnect(port: port) { return }
            usleep(50_000)
        }
        throw TestFailure("redis-server on port \(port) did not answer")
    }

    /// posix_spawn and waitpid: Foundation's Process does not reap a child that daemonizes
    /// (the test hangs on a zombie).
    private static func spawnAndWait(_ argv: [String]) throws {
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let rc = cArgs.withUnsafeBufferPointer { buffer in
            posix_spawnp(&pid, argv[0], nil, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
        }
        guard rc == 0 else { throw TestFailure("cannot run \(argv[0]): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw TestFailure("\(argv[0]) exited with status \(status)") }
    }

    /// Kills it at once (no shutdown save) and waits until the port is closed.
    func kill9() {
        if let text = try? String(contentsOfFile: "\(dir)/redis.pid", encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
        for _ in 0..<400 where canConnect(port: port) { usleep(10_000) }
        try? FileManager.default.removeItem(atPath: "\(dir)/redis.pid")
    }

    @discardableResult
    func cli(_ args: [String]) throws -> String {
        try runCommand(["redis-cli", "-p", String(port)] + args, timeout: 10).stdout
    }

    deinit { kill9() }
}

/// What the cache tests start pgstash with: the cache on, every table cached.
func cacheOverrides(redisPort: Int, extra: [String] = []) -> [String] {
    ["cache.enabled=true", "redis.port=\(redisPort)", "metrics.enabled=false", "pool.max_upstream=4",
     #"cache.rules=[{ name = "all", tier = "L1", tables = ["*"] }]"#] + extra
}

/// Starts pgstash with the cache on and waits until it serves from it (joined Redis, catalog read).
func startCachingPgStash(_ env: TestEnvironment, _ db: TestDatabase, redisPort: Int, extra: [String] = []) throws -> PgStashProcess {
    let p = try startPgStash(env, db, cacheOverrides(redisPort: redisPort, extra: extra))
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        let log = p.log
        if log.contains("joined Redis"), log.contains("catalog of \(db.name) loaded") { return p }
        usleep(20_000)
    }
    throw TestFailure("pgstash did not start serving from the cache within 20 s:\n\(logTail(p))")
}

/// The figures `clients/stale_check.py` printed.
struct StaleCheck {
    let operations: Int
    let reads: Int
    let writes: Int
    let stale: Int
    let lost: Int
    let failed: Int
    let errors: [String]
    let raw: String

    init(_ r: ProcessResult) throws {
        let obj = try lastJSON(r)
        operations = obj["operations"] as? Int ?? -1
        reads = obj["reads"] as? Int ?? -1
        writes = obj["writes"] as? Int ?? -1
        stale = obj["stale"] as? Int ?? -1
        lost = obj["lost"] as? Int ?? -1
        failed = obj["failed"] as? Int ?? -1
        errors = obj["errors"] as? [String] ?? []
        raw = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }
}
