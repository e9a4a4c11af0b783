import PostgresWire
import ProxyCore
import SQLAnalysis

/// Query digests (`SHOW QUERIES`): the relay hands each client message that went upstream and
/// each ReadyForQuery relayed back to the client's `DigestProbe` (`admin.digest`, nil when
/// `[admin] query_digests = 0`, so the hooks cost a nil check then). A finished request is
/// keyed by its statement's fingerprint from the analysis cache (an LRU by text: a statement
/// seen before is not parsed again) and recorded in the process's `QueryDigests`.
extension ClientHandler {
    /// A client message was relayed upstream (called from the relay loop when
    /// `admin.digest != nil`).
    func digestMessageSent(_ id: FrontendMessageID, body: ArraySlice<UInt8>) {
        let now = server.loop.now
        let outstanding = leased?.state.tracker.outstandingSyncs ?? 0
        // The first request of a pipeline may have waited for its server: time it from its
        // arrival (`requestStartedAt`, kept for the metrics); later ones from now.
        let start = admin.digest!.pendingCount == 0 ? (requestStartedAt ?? now) : now
        switch id {
        case .query:
            admin.digest!.querySent(Self.cString(body, from: body.startIndex), startedAt: start, serverOutstanding: outstanding)
        case .parse:
            guard let nameEnd = body.firstIndex(of: 0) else { return }
            // Named statements' texts are the session's; only the unnamed one is kept here.
            let unnamed = nameEnd == body.startIndex ? Self.cString(body, from: nameEnd + 1) : nil
            admin.digest!.parseSent(unnamedText: unnamed, now: start)
        case .bind:
            guard let portalEnd = body.firstIndex(of: 0), let nameEnd = body[(portalEnd + 1)...].firstIndex(of: 0) else { return }
            let text: String?
            if nameEnd == portalEnd + 1 {
                text = admin.digest!.unnamedText
            } else {
                let name = String(decoding: body[(portalEnd + 1)..<nameEnd], as: UTF8.self)
                text = session?.statements[name]?.key.query
            }
            admin.digest!.bindSent(statementText: text, now: start)
        case .sync, .functionCall:
            admin.digest!.syncSent(now: now, serverOutstanding: outstanding)
        case .describe, .execute, .close, .flush:
            admin.digest!.batchMessageSent(now: start)
        default:
            break
        }
    }

    /// A ReadyForQuery from the leased server `s` reached the client: its request is done.
    func digestRequestAnswered(_ s: ServerHandler) {
        guard let done = admin.digest?.readyForQueryReceived(now: server.loop.now,
                                                             serverOutstanding: s.state.tracker.outstandingSyncs),
              let text = done.text else { return }
        server.admin.recordDigest(database: databaseName, text: text, done.execution, analysis: server.analysisCache)
    }

    /// The NUL-terminated string starting at `from`.
    private static func cString(_ body: ArraySlice<UInt8>, from: Int) -> String {
        let end = body[from...].firstIndex(of: 0) ?? body.endIndex
        return String(decoding: body[from..<end], as: UTF8.self)
    }
}

extension AdminRegistry {
    /// Records a finished request under its statement's digest.
    func recordDigest(database: String, text: String, _ execution: QueryExecution, analysis cache: AnalysisCache) {
        guard digests != nil, let (fingerprint, normalized) = Self.digestKey(cache.analysis(of: text)) else { return }
        digests!.record(QueryDigestKey(database: database, fingerprint: fingerprint), query: normalized, execution)
    }

    /// The fingerprint and normalized text of a query string: several statements are joined
    /// (`;`), SQL that does not parse is one digest per database, comments alone none.
    static func digestKey(_ analysis: Analysis) -> (String, String)? {
        switch analysis {
        case .error:
            return ("unparsable", "<SQL that does not parse>")
        case .statements(let list):
            guard let first = list.first else { return nil }
            if list.count == 1 { return (first.fingerprint, first.normalized) }
            return (list.map(\.fingerprint).joined(separator: ";"), list.map(\.normalized).joined(separator: "; "))
        }
    }
}
