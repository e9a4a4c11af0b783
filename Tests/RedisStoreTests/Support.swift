import EventLoop
import Foundation
import Glibc
import RedisStore
import Testing

/// Every Redis test runs alone: each drives a real Redis and an event loop, and some stop
/// and restart their own Redis.
@Suite(.serialized) struct RedisStoreTests {}

/// The Redis `make test` started (scripts/with-servers.sh).
enum TestRedisEnvironment {
    static func port() throws -> Int {
        guard let p = ProcessInfo.processInfo.environment["PGSTASH_TEST_REDIS_PORT"].flatMap(Int.init) else {
            throw RedisTestFailure("Redis tests need the servers of `make test` (PGSTASH_TEST_REDIS_PORT unset)")
        }
        return p
    }

    static var tmp: String { ProcessInfo.processInfo.environment["PGSTASH_TEST_TMP"] ?? NSTemporaryDirectory() }
}

struct RedisTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs `loop` until stopped, for at most `timeout` seconds (a bound against hangs, not a
/// timing assertion); records an issue if the bound stopped it.
@discardableResult
func runLoop(_ loop: EventLoop, timeout: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    var timedOut = false
    let watchdog = loop.schedule(after: timeout) {
        timedOut = true
        loop.stop()
    }
    loop.run()
    loop.cancel(watchdog)
    if timedOut { Issue.record("event loop timed out after \(timeout) s", sourceLocation: sourceLocation) }
    return !timedOut
}

/// A Redis of the test's own, on a fixed port, which the test may stop, restart or pause.
final class OwnRedis {
    let port: Int
    let dir: String
    private(set) var pid: pid_t = 0

    init(extraArguments: [String] = []) throws {
        dir = TestRedisEnvironment.tmp + "/own-redis-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        port = try Self.freePort()
        self.extraArguments = extraArguments
        try start()
    }

    private let extraArguments: [String]

    func start() throws {
        let argv = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "yes", "--pidfile", dir + "/redis.pid", "--logfile", dir + "/redis.log",
                    "--dir", dir] + extraArguments
        try Self.run(argv)
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: dir + "/redis.pid", encoding: .utf8),
               let n = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), Self.accepts(port) {
                pid = n
                return
            }
            usleep(50_000)
        }
        throw RedisTestFailure("redis-server on port \(port) did not start (see \(dir)/redis.log)")
    }

    /// Kills the server and waits until its port refuses connections.
    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        // The port closes when the process dies; waiting for the pid could take until its
        // new parent reaps it.
        for _ in 0..<400 where Self.accepts(port) { usleep(10_000) }
        try? FileManager.default.removeItem(atPath: dir + "/redis.pid")
        pid = 0
    }

    func pause() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs `argv` (found on PATH) to completion with posix_spawn and waitpid: Foundation's
    /// `Process.waitUntilExit` needs a run loop that test threads do not run.
    private static func run(_ argv: [String]) throws {
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let rc = cArgs.withUnsafeBufferPointer { buffer in
            posix_spawnp(&pid, argv[0], nil, nil, UnsafeMutablePointer(mutating: buffer.baseAddress!), environ)
        }
        guard rc == 0 else { throw RedisTestFailure("cannot run \(argv[0]): error \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw RedisTestFailure("\(argv[0]) exited with status \(status)") }
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw RedisTestFailure("no free port: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Settings for a store on 127.0.0.1:`port` with short timeouts for tests.
func testSettings(port: Int, prefixes: [String] = []) -> RedisSettings {
    var s = RedisSettings(endpoint: .tcp(host: "127.0.0.1", port: port))
    s.connectTimeout = 1
    s.commandTimeout = 0.5
    s.reconnectDelay = 0.02
    s.maxReconnectDelay = 0.2
    s.keyPrefixes = prefixes
    return s
}

/// A unique key prefix per test, so tests sharing `make test`'s Redis never meet.
func uniquePrefix() -> String { CacheKeys.prefix(database: "test-\(UUID().uuidString.prefix(12))") }

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
