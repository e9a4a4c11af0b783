import Foundation
import Glibc

/// A response of pgstash's metrics endpoint.
struct HTTPAnswer {
    let status: Int
    let headers: [String: String]
    let body: String
}

/// A blocking HTTP/1.1 client for one loopback port: enough to speak to `/metrics`.
final class HTTPProbe {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        // A loaded machine may start the endpoint a moment after the client port: retry briefly.
        var fd = connectLoopback(port: port)
        for _ in 0..<40 where fd < 0 {
            usleep(50_000)
            fd = connectLoopback(port: port)
        }
        self.fd = fd
        guard fd >= 0 else { throw TestFailure("cannot connect to the metrics port \(port)") }
        var tv = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func sendRaw(_ s: String) {
        let bytes = Array(s.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    func request(_ path: String, method: String = "GET", keepAlive: Bool = true) throws -> HTTPAnswer {
        sendRaw("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(keepAlive ? "" : "Connection: close\r\n")\r\n")
        return try readAnswer(hasBody: method != "HEAD")
    }

    /// Reads one answer (head, then Content-Length bytes of body).
    func readAnswer(hasBody: Bool = true) throws -> HTTPAnswer {
        while true {
            if let end = find(Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
                guard let statusText = head.first?.split(separator: " ").dropFirst().first, let status = Int(statusText) else {
                    throw TestFailure("bad status line: \(head.first ?? "")")
                }
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = hasBody ? Int(headers["content-length"] ?? "0") ?? 0 : 0
                while pending.count < end + 4 + length { try fill() }
                let body = String(decoding: pending[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                pending.removeFirst(end + 4 + length)
                return HTTPAnswer(status: status, headers: headers, body: body)
            }
            try fill()
        }
    }

    /// True once the server has closed its side (reads end of file).
    func readsEndOfFile() -> Bool {
        var b = [UInt8](repeating: 0, count: 256)
        return b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } == 0
    }

    private func fill() throws {
        var b = [UInt8](repeating: 0, count: 64 * 1024)
        let n = b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw TestFailure("metrics connection ended (read returned \(n), errno \(errno))") }
        pending += b[0..<n]
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard pending.count >= needle.count else { return nil }
        for i in 0...(pending.count - needle.count) where Array(pending[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}

/// One GET on a fresh connection.
func httpGet(_ port: Int, _ path: String) throws -> HTTPAnswer {
    try HTTPProbe(port: port).request(path, keepAlive: false)
}

/// The samples of an exposition: series name, labels, value.
struct Exposition {
    struct Sample {
        let name: String
        let labels: [String: String]
        let value: Double
    }
    let text: String
    let samples: [Sample]

    init(_ text: String) {
        self.text = text
        samples = text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else {
                return nil
            }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: v) }
            var labels: [String: String] = [:]
            // Values here never hold a quote or a comma (database and user names of the tests).
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { labels[String(kv[0])] = String(kv[1].dropFirst().dropLast()) }
            }
            return Sample(name: String(series[..<brace]), labels: labels, value: v)
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }

    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }
}

func scrape(_ port: Int) throws -> Exposition {
    let a = try httpGet(port, "/metrics")
    guard a.status == 200 else { throw TestFailure("/metrics answered \(a.status): \(a.body)") }
    return Exposition(a.body)
}

/// Scrapes until `condition` holds (at most `attempts` times, 50 ms apart); the last scrape.
func scrape(_ port: Int, until condition: (Exposition) -> Bool, attempts: Int = 200) throws -> Exposition {
    var last = try scrape(port)
    for _ in 0..<attempts where !condition(last) {
        usleep(50_000)
        last = try scrape(port)
    }
    return last
}

/// `promtool ARGS`, with `stdin` fed to it.
func promtool(_ args: [String], stdin: String? = nil) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
        throw TestFailure("promtool is missing: scripts/deps.sh installs Debian's prometheus package")
    }
    return try runCommand(["/usr/bin/promtool"] + args, stdin: stdin, timeout: 60)
}

/// The repository's root folder.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
