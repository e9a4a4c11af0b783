/// A least-recently-used cache of analyses keyed by the exact query text, bounded both in
/// entries and in (estimated) bytes. A hit costs one dictionary lookup on the text.
///
/// Not thread-safe: give each worker thread its own cache, or guard one with a `Mutex`.
public final class AnalysisCache {
    private struct Entry {
        var key: String
        var value: Analysis
        var bytes: Int
        var newer: Int
        var older: Int
    }

    public let maximumEntries: Int
    public let maximumBytes: Int
    public private(set) var bytes = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    private var index: [String: Int] = [:]
    private var entries: [Entry] = []
    private var free: [Int] = []
    /// Most recently used entry, or -1.
    private var newest = -1
    /// Least recently used entry, or -1.
    private var oldest = -1

    /// - Parameters:
    ///   - maximumEntries: at most this many analyses are kept (at least 1).
    ///   - maximumBytes: the estimated size of keys and analyses stays under this.
    public init(maximumEntries: Int = 10_000, maximumBytes: Int = 32 << 20) {
        self.maximumEntries = max(1, maximumEntries)
        self.maximumBytes = max(1, maximumBytes)
        index.reserveCapacity(min(self.maximumEntries, 4096))
    }

    /// Number of analyses held.
    public var count: Int { index.count }

    /// The cached analysis of `sql`, or a fresh one (then stored).
    public func analysis(of sql: String) -> Analysis {
        if let hit = lookup(sql) { return hit }
        let fresh = SQLAnalyzer.analyze(sql)
        insert(sql, fresh)
        return fresh
    }

    /// The cached analysis of `sql`, marking it most recently used.
    public func lookup(_ sql: String) -> Analysis? {
        guard let slot = index[sql] else { misses += 1; return nil }
        hits += 1
        moveToFront(slot)
        return entries[slot].value
    }

    /// Stores an analysis, evicting the least recently used ones to respect both bounds.
    /// An entry larger than `maximumBytes` on its own is not stored.
    public func insert(_ sql: String, _ analysis: Analysis) {
        let size = Self.estimatedBytes(sql, analysis)
        guard size <= maximumBytes else { return }
        if let slot = index[sql] {
            bytes += size - entries[slot].bytes
            entries[slot].value = analysis
            entries[slot].bytes = size
            moveToFront(slot)
        } else {
            let entry = Entry(key: sql, value: analysis, bytes: size, newer: -1, older: -1)
            let slot: Int
            if let reused = free.popLast() {
                entries[reused] = entry
                slot = reused
            } else {
                entries.append(entry)
                slot = entries.count - 1
            }
            index[sql] = slot
            bytes += size
            linkAtFront(slot)
        }
        while index.count > maximumEntries || bytes > maximumBytes, oldest != -1 { evictOldest() }
    }

    /// Drops every entry.
    public func removeAll() {
        index.removeAll()
        entries.removeAll()
        free.removeAll()
        newest = -1
        oldest = -1
        bytes = 0
    }

    private func evictOldest() {
        let slot = oldest
        unlink(slot)
        index[entries[slot].key] = nil
        bytes -= entries[slot].bytes
        entries[slot].key = ""
        entries[slot].value = .statements([])
        free.append(slot)
    }

    private func moveToFront(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        linkAtFront(slot)
    }

    private func linkAtFront(_ slot: Int) {
        entries[slot].older = newest
        entries[slot].newer = -1
        if newest != -1 { entries[newest].newer = slot }
        newest = slot
        if oldest == -1 { oldest = slot }
    }

    private func unlink(_ slot: Int) {
        let newer = entries[slot].newer
        let older = entries[slot].older
        if newer != -1 { entries[newer].older = older } else { newest = older }
        if older != -1 { entries[older].newer = newer } else { oldest = newer }
        entries[slot].newer = -1
        entries[slot].older = -1
    }

    /// A deliberately rough size: the key, the statement texts, names, and fixed overheads.
    static func estimatedBytes(_ sql: String, _ analysis: Analysis) -> Int {
        var total = 64 + sql.utf8.count
        switch analysis {
        case .error(let message, _):
            total += message.utf8.count
        case .statements(let list):
            for statement in list { total += estimatedBytes(statement) }
        }
        return total
    }

    private static func estimatedBytes(_ s: StatementAnalysis) -> Int {
        var total = 512 + s.text.utf8.count + s.normalized.utf8.count + (s.reason?.utf8.count ?? 0)
        for table in s.tablesRead + s.tablesWritten + s.systemCatalogs + s.temporaryTables {
            total += 48 + table.name.utf8.count + (table.schema?.utf8.count ?? 0)
        }
        for name in s.functions + s.volatileFunctions { total += 32 + name.utf8.count }
        if let inner = s.preparedStatement { total += estimatedBytes(inner) }
        return total
    }
}
