import PostgresWire
import ProxyCore
import SQLAnalysis

/// Query digests of requests the result cache looked up (`SHOW QUERIES`' `cache_hits` and
/// `cache_misses`). A miss goes on to PostgreSQL and its call is recorded at its relayed
/// ReadyForQuery, as any other; a hit never reaches one, so its call is recorded here, timed
/// from the request's arrival to the reply.
extension ClientHandler {
    /// Called before a hit's bookkeeping (`hit`: the result served) or at a miss (`hit` nil).
    func digestCacheLookup(_ batch: CacheBatch, hit: CachedResult?) {
        guard let text = digestText(batch) else { return }
        server.admin.recordCacheLookup(database: databaseName, normalized: text, hit: hit != nil, analysis: server.analysisCache)
        guard let hit else { return }
        let now = server.loop.now
        let execution = QueryExecution(seconds: max(now - (requestStartedAt ?? now), 0), rows: Self.rowCount(hit.rows))
        server.admin.recordDigest(database: databaseName, normalized: text, execution, analysis: server.analysisCache)
    }

    /// The batch's statement, normalized as the relay's digests name it.
    private func digestText(_ batch: CacheBatch) -> String? {
        switch batch.shape {
        case .simple(let sql): return SQLText.normalize(sql)
        case .extended: return session?.cacheStatement(for: batch).map { server.admin.normalized($0.query) }
        }
    }

    /// The row count of the CommandComplete that ends a stored result's frames.
    static func rowCount(_ frames: [UInt8]) -> UInt64 {
        var i = 0
        var count: UInt64 = 0
        while i + 5 <= frames.count {
            let length = Int(frames[i + 1]) << 24 | Int(frames[i + 2]) << 16 | Int(frames[i + 3]) << 8 | Int(frames[i + 4])
            let end = min(i + 1 + length, frames.count)
            if frames[i] == BackendMessageID.commandComplete.rawValue { count = DigestProbe.rowCount(frames[(i + 5)..<end]) }
            i = end
        }
        return count
    }
}
