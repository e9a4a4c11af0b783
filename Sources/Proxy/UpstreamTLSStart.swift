import EventLoop
import PostgresWire
import ProxyConfig
import ProxyCore

/// The part of an upstream login before the StartupMessage: SSLRequest, the server's one-byte
/// answer, the TLS handshake — as its database's `sslmode` says (`UpstreamTLSNegotiation`).
/// Shared by pooled servers (`ServerHandler`) and listener connections.
struct UpstreamTLSStart {
    enum Step {
        /// Nothing to do until the next input or the end of the handshake.
        case wait
        /// Send the StartupMessage now (over TLS if it was started).
        case sendStartup
        /// Call `startTLS` on the connection — after storing this value: the handshake may
        /// complete (and the StartupMessage go out) before `startTLS` returns.
        case startTLS(TLSContext, TLSRole)
        case fail(sqlState: String, message: String)
    }

    let negotiation: UpstreamTLSNegotiation
    let settings: UpstreamTLSConfig
    let host: String
    /// The SSLRequest is sent and its answer has not arrived.
    private(set) var awaitingAnswer = false

    init(settings: UpstreamTLSConfig, host: String, retryingWithTLS: Bool) {
        self.settings = settings
        self.host = host
        self.negotiation = UpstreamTLSNegotiation(mode: settings.sslmode, retryingWithTLS: retryingWithTLS)
    }

    /// The TCP connection is up.
    mutating func connected(_ c: Connection) -> Step {
        guard case .sendSSLRequest = negotiation.connected() else { return .sendStartup }
        var b = ByteBuffer()
        StartupPacket.sslRequest.encode(into: &b)
        c.send(b)
        awaitingAnswer = true
        return .wait
    }

    /// Input while `awaitingAnswer`.
    mutating func answerReceived(_ c: Connection, server: ProxyServer) -> Step {
        guard let byte = c.inbound.readableView.first else { return .wait }
        c.inbound.moveReaderIndex(forwardBy: 1)
        awaitingAnswer = false
        switch negotiation.responseReceived(byte, trailingBytes: c.inbound.readableBytes) {
        case .startTLS:
            let context: TLSContext
            do { context = try server.upstreamTLSContext(settings) } catch {
                return .fail(sqlState: "08006", message: "cannot set up TLS toward upstream server \(host): \(error)")
            }
            let verifyHost = settings.sslmode == .verifyFull ? host : nil
            return .startTLS(context, .client(serverName: host, verifyHost: verifyHost))
        case .sendStartup, .sendSSLRequest:
            return .sendStartup
        case let .fail(sqlState, message):
            return .fail(sqlState: sqlState, message: "upstream server \(host): \(message)")
        }
    }

    /// Why a connection closed during the handshake, in words for the log and the client.
    static func describe(_ error: IOError, host: String, port: Int) -> String {
        "TLS handshake with upstream server \(host):\(port) failed: \(error.message)"
    }
}
