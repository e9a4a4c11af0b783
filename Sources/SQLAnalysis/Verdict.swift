/// Decides whether a statement's result may ever be served from the cache, and says why not
/// in words a DBA recognises. Only a plain SELECT can be cacheable; the first reason that
/// applies wins. Whether a cacheable statement *is* cached is decided by the rules.
enum Verdict {
    static func apply(to analysis: inout StatementAnalysis, walker: TreeWalker) {
        analysis.reason = reason(analysis, walker)
        analysis.cacheable = analysis.reason == nil
    }

    private static func reason(_ a: StatementAnalysis, _ w: TreeWalker) -> String? {
        if w.tooDeep { return "the statement is nested too deeply for pgstash to analyse; it is passed through" }
        guard a.kind == .select else { return kindReason(a) }
        if a.hasDataModifyingCTE {
            return "a data-modifying WITH clause (INSERT/UPDATE/DELETE inside WITH) writes to \(list(a.tablesWritten))"
        }
        if a.createsTableFromQuery {
            return "SELECT INTO creates table \(list(a.tablesWritten)); it is a write, not a read"
        }
        if a.hasLocking {
            return "FOR UPDATE/FOR SHARE locks the rows it reads; only PostgreSQL can take those locks"
        }
        let unknown = Set(w.unknownFunctions)
        let known = a.volatileFunctions.filter { !unknown.contains($0) }
        if !known.isEmpty {
            return "calls \(functions(known)), whose result changes from call to call, over time or between sessions"
        }
        if !w.unknownFunctions.isEmpty {
            return "calls \(functions(w.unknownFunctions)), which is not a built-in function pgstash knows to be "
                + "immutable or stable; it may read data or state that pgstash cannot see change"
        }
        if w.castsTimeLiteral {
            return "casts a special value such as 'now' or 'today' to a date/time type, which reads the clock"
        }
        if w.hasUnrepeatableSample {
            return "TABLESAMPLE without REPEATABLE returns a different sample on every run"
        }
        if !a.systemCatalogs.isEmpty {
            return "reads system catalog \(list(a.systemCatalogs)), which changes without any write pgstash sees"
        }
        if !a.temporaryTables.isEmpty {
            return "reads temporary table \(list(a.temporaryTables)), which exists only in one session"
        }
        return nil
    }

    private static func kindReason(_ a: StatementAnalysis) -> String {
        switch a.kind {
        case .insert, .update, .delete, .merge:
            return "\(a.kind.rawValue.uppercased()) writes to \(list(a.tablesWritten)); only SELECT results are cached"
        case .copyFrom: return "COPY FROM loads rows into \(list(a.tablesWritten))"
        case .copyTo: return "COPY TO streams data through the COPY sub-protocol; only SELECT results are cached"
        case .ddl: return "DDL (\(a.nodeType)) changes the schema"
        case .truncate: return "TRUNCATE empties \(list(a.tablesWritten))"
        case .begin, .commit, .rollback, .savepoint, .release, .rollbackToSavepoint, .prepareTransaction,
             .commitPrepared, .rollbackPrepared:
            return "\(a.kind.rawValue.uppercased().replacingHyphens) is transaction control"
        case .set, .reset: return "\(a.kind.rawValue.uppercased()) changes a session setting"
        case .show: return "SHOW reads a setting of this session, which differs between connections"
        case .listen, .unlisten, .notify: return "\(a.kind.rawValue.uppercased()) is asynchronous messaging between sessions"
        case .prepare:
            return "PREPARE creates a server-side prepared statement; the proxy tracks it and analyses its query separately"
        case .execute: return "EXECUTE runs a prepared statement; its query was analysed when it was prepared"
        case .deallocate: return "DEALLOCATE removes a prepared statement"
        case .call: return "CALL runs a procedure, which may write any table"
        case .do: return "DO runs an anonymous code block, which may write any table"
        case .lock: return "LOCK takes table locks; only PostgreSQL can take them"
        case .vacuum, .analyze: return "\(a.kind.rawValue.uppercased()) is maintenance"
        case .explain:
            if a.explainAnalyze, a.isWrite {
                return "EXPLAIN ANALYZE executes the \(a.innerKind?.rawValue.uppercased() ?? "statement"), which writes to \(list(a.tablesWritten))"
            }
            return a.explainAnalyze ? "EXPLAIN ANALYZE reports timings of one execution" : "EXPLAIN shows a plan, which depends on statistics, not on table data alone"
        case .declareCursor: return "DECLARE CURSOR opens a cursor whose rows are fetched later"
        case .fetch, .closeCursor: return "\(a.kind == .fetch ? "FETCH" : "CLOSE") works on a cursor of this session"
        case .discard: return "DISCARD resets session state"
        case .select, .other: return "\(a.nodeType.isEmpty ? "the statement" : a.nodeType) is not a query whose result can be cached"
        }
    }

    private static func list(_ tables: [TableName]) -> String {
        tables.isEmpty ? "a table" : tables.map(\.description).joined(separator: ", ")
    }

    private static func functions(_ names: [String]) -> String {
        names.map { SQLValueFunctionNames.contains($0) ? $0.uppercased() : "\($0)()" }.joined(separator: ", ")
    }

    /// SQL value functions are written without parentheses (`CURRENT_TIMESTAMP`).
    static let SQLValueFunctionNames: Set<String> = [
        "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
        "current_role", "current_user", "user", "session_user", "current_catalog", "current_schema",
    ]
}

private extension String {
    var replacingHyphens: String { String(map { $0 == "-" ? " " : $0 }) }
}
