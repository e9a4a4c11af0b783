import Foundation
import Glibc
import PostgresWire
import ProxyCore

/// A blocking protocol-3.0 client on a raw socket, for checks psql cannot express: exact
/// SQLSTATEs, garbage and oversized messages, stalls.
final class WireClient {
    let fd: Int32
    private var inbound = ByteBuffer()
    /// The process id of the BackendKeyData the login got.
    private(set) var keyProcessID: Int32?

    init(port: Int, timeout: Double = 10) throws {
        fd = connectLoopback(port: port)
        guard fd >= 0 else { throw TestFailure("connect to \(port) failed: errno \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads one backend message; nil on EOF, timeout or a reset.
    func receive() -> BackendMessage? {
        while true {
            if let f = try? Framing.nextFrame(&inbound, maxBodyLength: 1 << 30) {
                return try? BackendMessage.decode(id: f.id, body: f.body)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            inbound.append(chunk[0..<n])
        }
    }

    /// True when the peer closed the connection (EOF) within the socket timeout.
    func waitForClose() -> Bool {
        while true {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    enum LoginResult { case ready, error(ErrorFields), closed }

    /// Logs in (cleartext, md5 or SCRAM) and returns at the first ReadyForQuery or error.
    func login(user: String, password: String, database: String, parameters: [(String, String)] = []) -> LoginResult {
        var l = ServerLogin(user: user, password: password, database: database, extraParameters: parameters,
                            clientNonce: Crypto.base64(Crypto.randomBytes(18)))
        send(l.startupPacket)
        while let m = receive() {
            if case .errorResponse(let f) = m { return .error(f) }
            switch l.messageReceived(m) {
            case .send(let b): send(b)
            case .wait: continue
            case .ready(_, let pid, _):
                keyProcessID = pid
                return .ready
            case let .fail(state, message):
                return .error(ErrorFields(severity: "FATAL", sqlState: state, message: message))
            }
        }
        return .closed
    }

    /// Runs a simple query; returns every message up to ReadyForQuery.
    func query(_ sql: String) -> [BackendMessage] {
        send(FrontendMessage.query(sql).encoded)
        var out: [BackendMessage] = []
        while let m = receive() {
            out.append(m)
            if case .readyForQuery = m { break }
        }
        return out
    }
}

extension [BackendMessage] {
    /// DataRow values as text, row by row.
    var rows: [[String?]] {
        compactMap { if case .dataRow(let cols) = $0 { return cols.map { $0.map { String(decoding: $0, as: UTF8.self) } } }; return nil }
    }
    var errors: [ErrorFields] {
        compactMap { if case .errorResponse(let f) = $0 { return f }; return nil }
    }
    /// The messages' type bytes, in order ("12TDCZ"): what a test of their order compares.
    var kinds: String { String(decoding: map(\.id.rawValue), as: UTF8.self) }
}
