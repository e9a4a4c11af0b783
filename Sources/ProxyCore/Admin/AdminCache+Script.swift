import CachePolicy
import SQLAnalysis

/// `EXPLAIN CACHE` of a script (`EXPLAIN CACHE BEGIN; UPDATE orders …; SELECT … FROM
/// orders …`): the statements are taken as one session's requests, sent one after another,
/// and the last one is explained in the state the earlier ones leave — inside a transaction
/// block or not, and what that block has written. The cache answers only requests made
/// outside a transaction block (the client holds no server then), so a read after `BEGIN` goes
/// to PostgreSQL; when the block has written a table the read reads, that is the reason named,
/// since only PostgreSQL can show the transaction its own uncommitted rows.
extension AdminCache {
    /// One earlier statement's effect, and the state of the block after it.
    struct ScriptState {
        /// The statement (1-based) that opened the transaction block, nil outside one.
        var blockOpenedAt: Int?
        /// Writes made in the open block: statement number, text, what it bumps.
        var writes: [(number: Int, sql: String, set: WriteSet)] = []
    }

    /// Explains the last of `statements` (each with its analysis) after the others.
    public static func explainScript(_ statements: [(sql: String, analysis: Analysis)], database: String, policy: CachePolicy,
                                     session: SessionContext, catalog: CatalogSnapshot) -> AdminResultSet {
        guard let last = statements.last else { return AdminResultSet(columns: explainColumns, rows: [], tag: "EXPLAIN") }
        var rows: [[String?]] = []
        var state = ScriptState()
        for (i, st) in statements.dropLast().enumerated() {
            let effect = step(&state, number: i + 1, sql: st.sql, analysis: st.analysis, policy: policy, session: session, catalog: catalog)
            rows.append(["statement \(i + 1)", "\(oneLine(st.sql)): \(effect)"])
        }
        let alone = explain(sql: last.sql, analysis: last.analysis, database: database, policy: policy, session: session, catalog: catalog)
        guard let opened = state.blockOpenedAt, !isTransactionEnd(last.analysis) else {
            return AdminResultSet(columns: explainColumns, rows: rows + alone.rows, tag: "EXPLAIN")
        }
        rows.append(["decision", "not cached"])
        let read = readRelations(last.analysis, session: session, catalog: catalog)
        let hit = state.writes.filter { w in w.set.bumpsEpoch || w.set.tags.contains { read.contains($0.relation) } }
        if let w = hit.first {
            let what = w.set.bumpsEpoch
                ? "it may have written any table (\(w.set.epochReason ?? "epoch"))"
                : "it wrote " + names(read.filter { oid in w.set.tags.contains { $0.relation == oid } }, catalog)
            rows.append(["reason", "written in this transaction: statement \(w.number) (\(oneLine(w.sql))) wrote a table it reads, "
                + "in the transaction block opened by statement \(opened): \(what). Reads inside a transaction that has written "
                + "go to PostgreSQL, which alone shows the transaction its own uncommitted rows"])
        } else if !state.writes.isEmpty {
            rows.append(["reason", "inside a transaction block (opened by statement \(opened)) that has written other tables "
                + "(statement \(state.writes.map { "\($0.number)" }.joined(separator: ", "))): every request of an open "
                + "transaction goes to PostgreSQL"])
        } else {
            rows.append(["reason", "inside a transaction block (opened by statement \(opened)): every request of an open "
                + "transaction goes to PostgreSQL, which keeps the client on one server until COMMIT or ROLLBACK"])
        }
        rows.append(["outside a transaction block", summary(alone)])
        rows += alone.rows.filter { $0.first == "invalidates" }
        return AdminResultSet(columns: explainColumns, rows: rows, tag: "EXPLAIN")
    }

    /// Applies one earlier statement to the state; says what it did, in words.
    static func step(_ state: inout ScriptState, number: Int, sql: String, analysis: Analysis, policy: CachePolicy,
                     session: SessionContext, catalog: CatalogSnapshot) -> String {
        guard case .statements(let list) = analysis else { return "does not parse (PostgreSQL would reject it)" }
        var said: [String] = []
        for s in list {
            switch s.kind {
            case .begin:
                if state.blockOpenedAt == nil { state.blockOpenedAt = number; said.append("opens a transaction block") }
            case .commit, .rollback, .prepareTransaction:
                if state.blockOpenedAt != nil { said.append("ends the transaction block") }
                state = ScriptState()
            default:
                let w = policy.writeSet(.statements([s]), session: session, catalog: catalog)
                guard !w.isEmpty else { continue }
                if state.blockOpenedAt != nil {
                    state.writes.append((number, sql, w))
                    said.append("writes in the transaction block: " + describe(w, catalog))
                } else {
                    said.append("writes and commits at once (autocommit): " + describe(w, catalog))
                }
            }
        }
        return said.isEmpty ? "reads or changes nothing the cache follows" : said.joined(separator: "; ")
    }

    private static func isTransactionEnd(_ analysis: Analysis) -> Bool {
        guard case .statements(let list) = analysis else { return false }
        return list.contains { [.begin, .commit, .rollback, .prepareTransaction].contains($0.kind) }
    }

    /// Every relation the statement's reads reach: named ones, a view's bases, partitions,
    /// inheritance parents and children.
    static func readRelations(_ analysis: Analysis, session: SessionContext, catalog: CatalogSnapshot) -> Set<Oid> {
        guard case .statements(let list) = analysis else { return [] }
        var out: Set<Oid> = []
        var stack: [Oid] = list.flatMap(\.tablesRead).compactMap { session.searchPath.resolve($0, in: catalog)?.oid }
        while let oid = stack.popLast() {
            guard out.insert(oid).inserted else { continue }
            for member in catalog.family(of: oid) where !out.contains(member) { stack.append(member) }
            if let r = catalog.relation(oid), r.kind == .view { stack += r.viewBases }
        }
        return out
    }

    private static func describe(_ w: WriteSet, _ catalog: CatalogSnapshot) -> String {
        if let reason = w.epochReason { return "every entry of the database (epoch): \(reason)" }
        return w.sortedTags.map { AdminCache.describe($0, catalog) }.joined(separator: ", ")
    }

    private static func names(_ oids: Set<Oid>, _ catalog: CatalogSnapshot) -> String {
        oids.compactMap { catalog.relation($0)?.qualifiedName }.sorted().joined(separator: ", ")
    }

    /// `cached by rule "orders" (tier L1, TTL 300 s)` or `not cached: REASON`, from an explanation.
    private static func summary(_ e: AdminResultSet) -> String {
        func value(_ item: String) -> String? { e.rows.first { $0.first == item }?[1] ?? nil }
        if value("decision") == "cached" {
            return "cached by rule \"\(value("rule") ?? "")\" (tier \(value("tier") ?? ""), TTL \(value("ttl") ?? ""))"
        }
        return "not cached: " + (value("reason") ?? "")
    }

    private static func oneLine(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
        return words.count > 80 ? String(words.prefix(77)) + "…" : words
    }
}
