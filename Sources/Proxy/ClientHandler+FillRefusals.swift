import ProxyCore

/// Refused fills per statement (`FillRefusals`): a miss's capture that could not be stored
/// (over `max_result_bytes`, a notice with it, a row too big to buffer…) is remembered under
/// the statement's fingerprint, so that `EXPLAIN CACHE` of that statement and `SHOW CACHE
/// ADVICE` can name the reason, which the SQL alone does not show.
extension ClientHandler {
    /// The statement a batch runs, kept with its pending fill (the session has moved on when
    /// the fill ends).
    func fillStatement(_ batch: CacheBatch) -> String {
        session?.cacheStatement(for: batch)?.query ?? ""
    }

    /// Called where a capture is refused (`finishFill`).
    func cacheFillRefused(_ f: ClientCacheState.PendingFill, reason: String) {
        guard !f.statement.isEmpty else { return }
        server.fillRefused(prefix: f.prefix, query: f.statement, rule: f.plan.rule, reason: reason)
    }
}
