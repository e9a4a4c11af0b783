import Foundation
import Glibc

/// The servers `make test` started (scripts/with-servers.sh) and the pgstash binary.
struct TestEnvironment: Sendable {
    let pgPort: Int
    let pgPassword: String
    let redisPort: Int
    let binary: String
    let tmp: String

    static let shared: TestEnvironment? = {
        let env = ProcessInfo.processInfo.environment
        guard let p = env["PGSTASH_TEST_PG_PORT"].flatMap(Int.init),
              let r = env["PGSTASH_TEST_REDIS_PORT"].flatMap(Int.init) else { return nil }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let bin = env["PGSTASH_BIN"] ?? root.appendingPathComponent(".build/debug/pgstash").path
        return TestEnvironment(pgPort: p, pgPassword: env["PGSTASH_TEST_PG_PASSWORD"] ?? "secret",
                               redisPort: r, binary: bin, tmp: env["PGSTASH_TEST_TMP"] ?? "/tmp")
    }()

    /// Fails loudly when the suite runs without its servers (never a silent skip).
    static func require() throws -> TestEnvironment {
        guard let e = shared else {
            throw TestFailure("integration tests need the servers of `make test` (PGSTASH_TEST_PG_PORT unset)")
        }
        return e
    }

    var upstreamURL: String { "postgresql://postgres:\(pgPassword)@127.0.0.1:\(pgPort)/postgres" }

    /// A libpq connection string for psql/pgbench straight to PostgreSQL.
    func directDSN(db: String = "postgres") -> String {
        "host=127.0.0.1 port=\(pgPort) user=postgres password=\(pgPassword) dbname=\(db) sslmode=disable"
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Result of a child process.
struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a command to completion (bounded by `timeout` seconds) and captures its output.
@discardableResult
func runCommand(_ argv: [String], env extra: [String: String] = [:], stdin: String? = nil,
                timeout: Double = 120) throws -> ProcessResult {
    let p = childProcess(argv)
    var env = ProcessInfo.processInfo.environment
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
    try? inp.fileHandleForWriting.close()
    // Read both pipes concurrently so a chatty child never blocks on a full pipe.
    let box = OutputBox()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { box.setOut(out.fileHandleForReading.readDataToEndOfFile()); group.leave() }
    group.enter()
    DispatchQueue.global().async { box.setErr(err.fileHandleForReading.readDataToEndOfFile()); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning { p.terminate(); usleep(200_000); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
    p.waitUntilExit()
    group.wait()
    return ProcessResult(status: p.terminationStatus, stdout: box.out, stderr: box.err)
}

private final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var out = ""
    private(set) var err = ""
    func setOut(_ d: Data) { lock.lock(); out = String(decoding: d, as: UTF8.self); lock.unlock() }
    func setErr(_ d: Data) { lock.lock(); err = String(decoding: d, as: UTF8.self); lock.unlock() }
}

/// A Process for `argv` with a clean signal mask. Test threads are dispatch workers, which
/// block most signals, and a child inherits that mask: pgbench's `-T` then never ends,
/// because it relies on SIGALRM. A tiny exec shim unblocks everything first.
func childProcess(_ argv: [String]) -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])"] + argv
    return p
}

/// A free loopback TCP port.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
