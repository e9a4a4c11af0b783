import PostgresWire
import ProxyCore
import SQLAnalysis

/// Query digests (`SHOW QUERIES`): the relay hands each client message that went upstream and
/// each ReadyForQuery relayed back to the client's `DigestProbe` (`admin.digest`, nil when
/// `[admin] query_digests = 0`, so the hooks cost a nil check then). Statements are normalized
/// by SQLAnalysis's lexer as they are sent (linear, no parse; a prepared statement's text once,
/// through `RecentTexts`); a finished request is recorded in the process's `QueryDigests`
/// under its normalized text, and libpg_query parses a statement only when it gets a digest,
/// for its fingerprint.
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
            admin.digest!.querySent(SQLText.normalize(body), startedAt: start, serverOutstanding: outstanding)
        case .parse:
            guard let nameEnd = body.firstIndex(of: 0) else { return }
            // Named statements' texts are the session's; only the unnamed one is kept here.
            let unnamed = nameEnd == body.startIndex ? Self.normalizedCString(body, from: nameEnd + 1) : nil
            admin.digest!.parseSent(unnamedText: unnamed, now: start)
        case .bind:
            guard let portalEnd = body.firstIndex(of: 0), let nameEnd = body[(portalEnd + 1)...].firstIndex(of: 0) else { return }
            let text: String?
            if nameEnd == portalEnd + 1 {
                text = admin.digest!.unnamedText
            } else {
                let name = String(decoding: body[(portalEnd + 1)..<nameEnd], as: UTF8.self)
                text = session?.statements[name].map { server.admin.normalized($0.key.query) }
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
        server.admin.recordDigest(database: databaseName, normalized: text, done.execution, analysis: server.analysisCache)
    }

    /// The NUL-terminated string starting at `from`, normalized.
    private static func normalizedCString(_ body: ArraySlice<UInt8>, from: Int) -> String {
        let end = body[from...].firstIndex(of: 0) ?? body.endIndex
        return SQLText.normalize(body[from..<end])
    }
}

extension AdminRegistry {
    /// Records a finished request under its normalized statement (an empty one, a string of
    /// comments, is not recorded).
    func recordDigest(database: String, normalized: String, _ execution: QueryExecution, analysis cache: AnalysisCache) {
        guard digests != nil, !normalized.isEmpty else { return }
        digests!.record(QueryDigestKey(database: database, query: normalized),
                        fingerprint: Self.fingerprint(cache.analysis(of: normalized)), execution)
    }

    /// For the result cache: a lookup of the statement hit or missed. A request the cache
    /// answers never reaches a relayed ReadyForQuery, so the cache also records its call with
    /// `recordDigest` (its time from the request's arrival, `requestStartedAt`).
    func recordCacheLookup(database: String, normalized: String, hit: Bool, analysis cache: AnalysisCache) {
        guard digests != nil, !normalized.isEmpty else { return }
        digests!.recordCacheResult(QueryDigestKey(database: database, query: normalized),
                                   fingerprint: Self.fingerprint(cache.analysis(of: normalized)), hit: hit)
    }

    /// A prepared statement's text, normalized once.
    func normalized(_ text: String) -> String {
        normalizedTexts.value(for: text) { SQLText.normalize($0) }
    }

    /// libpg_query's fingerprint of a statement (`;`-joined for several); empty when the SQL
    /// does not parse.
    static func fingerprint(_ analysis: Analysis) -> String {
        analysis.statements.map(\.fingerprint).joined(separator: ";")
    }
}
