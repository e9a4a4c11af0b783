/// One version counter in Redis (cache.md §1.1 `V:<tag>`, §2 column level). A cached read
/// records the current value of each tag it depends on, plus the epoch; a write bumps the tags
/// it may affect before its acknowledgement reaches the client.
///
/// - `rows`: the set of rows of a relation (INSERT, DELETE, TRUNCATE, COPY FROM, MERGE, and
///   UPDATEs whose columns are unknown). Every read of the relation depends on it.
/// - `column(c)`: the values of one column (UPDATE … SET c). A read that references only
///   known columns depends on those.
/// - `allColumns`: bumped by every UPDATE of the relation; a read that may reference any
///   column (`*`, whole-row references, views) depends on it instead of column tags.
public struct InvalidationTag: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// What part of the relation the tag covers.
    public enum Scope: Hashable, Sendable {
        case rows
        case allColumns
        case column(String)
    }

    public var relation: Oid
    public var scope: Scope

    public init(relation: Oid, scope: Scope) {
        self.relation = relation
        self.scope = scope
    }

    public static func rows(_ relation: Oid) -> InvalidationTag { .init(relation: relation, scope: .rows) }
    public static func allColumns(_ relation: Oid) -> InvalidationTag { .init(relation: relation, scope: .allColumns) }
    public static func column(_ relation: Oid, _ name: String) -> InvalidationTag {
        .init(relation: relation, scope: .column(name))
    }

    /// The tag as it appears in its Redis key after `V:`: `16384|rows`, `16384|all`,
    /// `16384|c:status`. Relations are named by oid, so every spelling of a name is one tag
    /// (cache.md §1.8); a column name may hold any character, and it comes last.
    public var description: String {
        switch scope {
        case .rows: return "\(relation)|rows"
        case .allColumns: return "\(relation)|all"
        case .column(let name): return "\(relation)|c:\(name)"
        }
    }

    /// By relation, then rows < all < columns by name: the order in which a lookup and its
    /// fill name the tags, so both compare the same capture string.
    public static func < (a: InvalidationTag, b: InvalidationTag) -> Bool {
        if a.relation != b.relation { return a.relation < b.relation }
        switch (a.scope, b.scope) {
        case (.column(let x), .column(let y)): return x < y
        default: return a.scope.rank < b.scope.rank
        }
    }
}

extension InvalidationTag.Scope {
    var rank: Int {
        switch self {
        case .rows: return 0
        case .allColumns: return 1
        case .column: return 2
        }
    }
}

/// What a write (a statement, or a whole transaction) must bump when it commits.
public struct WriteSet: Sendable, Equatable {
    /// Tags to bump (cache.md §1.2 step 4).
    public var tags: Set<InvalidationTag>
    /// The write's effects are unknown (CALL, DO, DDL, user functions, triggers, unresolved
    /// targets): bump the epoch, which every entry depends on.
    public var bumpsEpoch: Bool
    /// Why the epoch is bumped, for logs and `EXPLAIN CACHE`; nil when it is not.
    public var epochReason: String?

    public init(tags: Set<InvalidationTag> = [], epochReason: String? = nil) {
        self.tags = tags
        self.bumpsEpoch = epochReason != nil
        self.epochReason = epochReason
    }

    /// The write changes what names resolve to or what relations look like (DDL, SELECT
    /// INTO): the catalog snapshot must be read again.
    public var changesCatalog = false

    /// Nothing to bump.
    public var isEmpty: Bool { tags.isEmpty && !bumpsEpoch }

    /// The tags in a stable order.
    public var sortedTags: [InvalidationTag] { tags.sorted() }

    /// Adds another statement's writes (a transaction's write set is the union of its statements').
    public mutating func formUnion(_ other: WriteSet) {
        tags.formUnion(other.tags)
        if other.changesCatalog { changesCatalog = true }
        if other.bumpsEpoch, !bumpsEpoch {
            bumpsEpoch = true
            epochReason = other.epochReason
        }
    }

    mutating func bumpEpoch(_ reason: String) {
        guard !bumpsEpoch else { return }
        bumpsEpoch = true
        epochReason = reason
    }
}
