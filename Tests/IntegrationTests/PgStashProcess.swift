import Foundation
import Glibc

/// A pgstash process for one test, on its own port; stopped by `stop()` or when released.
final class PgStashProcess: @unchecked Sendable {
    let port: Int
    let process: Process
    let logPath: String
    let env: TestEnvironment

    /// Starts `pgstash --listen 127.0.0.1:PORT --upstream … [-c k=v …]` (or with `--config`)
    /// and waits until it accepts connections.
    init(_ env: TestEnvironment, overrides: [String] = [], config: String? = nil,
         upstream: String? = nil) throws {
        self.env = env
        port = freePort()
        logPath = "\(env.tmp)/pgstash-\(port).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        var args: [String]
        if let config {
            args = ["--config", config, "--listen", "127.0.0.1:\(port)"]
        } else {
            args = ["--listen", "127.0.0.1:\(port)", "--upstream", upstream ?? env.upstreamURL]
        }
        for o in overrides { args += ["-c", o] }
        let p = childProcess([env.binary] + args)
        let log = FileHandle(forWritingAtPath: logPath)!
        p.standardOutput = log
        p.standardError = log
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if !p.isRunning { throw TestFailure("pgstash exited at start: \(self.log)") }
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        throw TestFailure("pgstash did not start listening within 20 s: \(self.log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    func dsn(user: String = "postgres", password: String? = nil, db: String = "postgres", extra: String = "") -> String {
        "host=127.0.0.1 port=\(port) user=\(user) password=\(password ?? env.pgPassword) dbname=\(db) sslmode=disable \(extra)"
    }

    func signal(_ s: Int32) { kill(process.processIdentifier, s) }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGINT)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

func canConnect(port: Int) -> Bool {
    let fd = connectLoopback(port: port)
    if fd >= 0 { close(fd) }
    return fd >= 0
}

/// A blocking TCP connection to 127.0.0.1:port, or -1.
func connectLoopback(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if rc != 0 { close(fd); return -1 }
    return fd
}

/// psql with ON_ERROR_STOP off, unaligned tuples-only unless `raw`; returns the result.
func psql(_ dsn: String, _ sql: String, args: [String] = ["-X", "-A", "-t", "-q"], timeout: Double = 60) throws -> ProcessResult {
    try runCommand(["psql", "-d", dsn] + args + ["-c", sql], timeout: timeout)
}
