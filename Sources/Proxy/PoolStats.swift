import Metrics
import PostgresWire
import ProxyCore

/// The event-driven instruments of one pool, resolved once so that a hot path touches a
/// stored counter and nothing else. The handlers call it from single-line hooks. With
/// `[metrics] enabled = false` (`recording` false) the instruments are not updated at all;
/// what the console and the digests need from the same events (`requestStartedAt`, the
/// digest hooks) still runs.
final class PoolStats {
    unowned let metrics: ProxyMetrics
    /// `metrics.recording` when the pool was made (`[metrics] enabled` takes a restart).
    let recording: Bool
    let queries: Counter
    let transactions: Counter
    let queryDuration: Histogram
    let acquireWait: Histogram
    let connectFailures: Counter

    init(metrics: ProxyMetrics, queries: Counter, transactions: Counter, queryDuration: Histogram,
         acquireWait: Histogram, connectFailures: Counter) {
        self.metrics = metrics
        self.recording = metrics.recording
        self.queries = queries
        self.transactions = transactions
        self.queryDuration = queryDuration
        self.acquireWait = acquireWait
        self.connectFailures = connectFailures
    }

    // MARK: Acquire

    /// The client got a server, was refused one, or gave up; `since` is when it asked
    /// (`ClientHandler.waitingSince`, the one record of it), nil if it was not waiting.
    func acquireEnded(since: Double?, now: Double) {
        guard recording, let since else { return }
        acquireWait.observe(max(now - since, 0))
    }

    /// An upstream connection failed to connect or log in.
    func connectFailed() {
        if recording { connectFailures.increment() }
    }

    // MARK: Server messages

    /// A message from a server on its way to `client` (ServerHandler's relay loop).
    @inline(__always)
    func backendMessage(_ id: UInt8, body: UnsafeRawBufferPointer, client: ClientHandler, now: Double) {
        if id == BackendMessageID.readyForQuery.rawValue {
            readyForQuery(status: body.first ?? 0, client: client, now: now)
        } else if id == BackendMessageID.commandComplete.rawValue {
            if client.admin.digest != nil, client.leased?.state.tracker.headIsForwarded == true {
                client.admin.digest!.commandCompleted(tag: ArraySlice(body))
            }
        } else if id == BackendMessageID.errorResponse.rawValue {
            if recording { metrics.serverError(body: ArraySlice(body)) }
            if client.admin.digest != nil, client.leased?.state.tracker.headIsForwarded == true {
                client.admin.digest!.errorReceived()
            }
        }
    }

    private func readyForQuery(status: UInt8, client: ClientHandler, now: Double) {
        if recording {
            queries.increment()
            if status == UInt8(ascii: "I") { transactions.increment() }
            if let start = client.requestStartedAt { queryDuration.observe(max(now - start, 0)) }
        }
        client.requestStartedAt = nil
    }
}
