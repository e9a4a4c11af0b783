/// A table as the statement names it: the schema only when the SQL wrote one. Names are as
/// PostgreSQL resolves them: unquoted identifiers folded to lower case, quoted ones kept.
public struct TableName: Sendable, Hashable, CustomStringConvertible {
    public var schema: String?
    public var name: String

    public init(schema: String? = nil, name: String) {
        self.schema = schema
        self.name = name
    }

    /// `schema.name` when a schema was written, otherwise `name`.
    public var description: String { schema.map { "\($0).\(name)" } ?? name }
}

/// What a statement is, by its top-level parse node.
public enum StatementKind: String, Sendable, CaseIterable {
    case select, insert, update, delete, merge
    case copyFrom = "copy-from", copyTo = "copy-to"
    case ddl, truncate
    case begin, commit, rollback, savepoint, release
    case rollbackToSavepoint = "rollback-to-savepoint"
    case prepareTransaction = "prepare-transaction"
    case commitPrepared = "commit-prepared", rollbackPrepared = "rollback-prepared"
    case set, reset, show
    case listen, notify, unlisten
    case prepare, execute, deallocate
    case call, `do`, lock, vacuum, analyze, explain
    case declareCursor = "declare-cursor", fetch, closeCursor = "close-cursor"
    case discard, other

    /// Whether this kind starts, ends or marks a point in a transaction.
    public var isTransactionControl: Bool {
        switch self {
        case .begin, .commit, .rollback, .savepoint, .release, .rollbackToSavepoint,
             .prepareTransaction, .commitPrepared, .rollbackPrepared: return true
        default: return false
        }
    }
}

/// Transaction isolation levels, as `BEGIN`, `START TRANSACTION` and `SET TRANSACTION` spell them.
public enum IsolationLevel: String, Sendable {
    case readUncommitted = "read uncommitted"
    case readCommitted = "read committed"
    case repeatableRead = "repeatable read"
    case serializable
}

/// The options of `BEGIN`/`START TRANSACTION`/`SET TRANSACTION`/`SET SESSION CHARACTERISTICS`;
/// `nil` where the statement did not say.
public struct TransactionOptions: Sendable, Equatable {
    public var isolationLevel: IsolationLevel?
    public var readOnly: Bool?
    public var deferrable: Bool?

    public init(isolationLevel: IsolationLevel? = nil, readOnly: Bool? = nil, deferrable: Bool? = nil) {
        self.isolationLevel = isolationLevel
        self.readOnly = readOnly
        self.deferrable = deferrable
    }
}

/// A `SET` or `RESET` statement, as the pooling code needs it.
public struct VariableSetting: Sendable, Equatable {
    /// What the statement sets.
    public enum Target: String, Sendable {
        /// `SET name …` / `RESET name` / `RESET ALL` (then `name` is nil).
        case variable
        /// `SET TRANSACTION …`: the current transaction only.
        case transaction
        /// `SET SESSION CHARACTERISTICS AS TRANSACTION …`: the session's default.
        case sessionCharacteristics = "session-characteristics"
    }

    public var target: Target
    /// The variable, lower-cased (`SET TIME ZONE` is `timezone`, `SET NAMES` `client_encoding`);
    /// nil for `RESET ALL` and the transaction targets.
    public var name: String?
    /// `SET LOCAL`: lasts until the end of the transaction.
    public var isLocal: Bool
    /// `RESET name` or `RESET ALL`.
    public var isReset: Bool
    /// `RESET ALL`.
    public var isResetAll: Bool
    /// The value as written in the SQL (`'UTC'`, `app, public`, `DEFAULT`); nil for RESET,
    /// `FROM CURRENT` and the transaction targets.
    public var value: String?
    /// `SET FROM CURRENT`.
    public var isFromCurrent: Bool
    /// The options of `SET TRANSACTION` / `SET SESSION CHARACTERISTICS`.
    public var transactionOptions: TransactionOptions?

    public init(target: Target = .variable, name: String? = nil, isLocal: Bool = false, isReset: Bool = false,
                isResetAll: Bool = false, value: String? = nil, isFromCurrent: Bool = false,
                transactionOptions: TransactionOptions? = nil) {
        self.target = target
        self.name = name
        self.isLocal = isLocal
        self.isReset = isReset
        self.isResetAll = isResetAll
        self.value = value
        self.isFromCurrent = isFromCurrent
        self.transactionOptions = transactionOptions
    }
}

/// `DISCARD` targets.
public enum DiscardTarget: String, Sendable {
    case all, plans, sequences, temp
}

/// Everything pgstash learns about one SQL statement.
public struct StatementAnalysis: Sendable, Equatable {
    public var kind: StatementKind
    /// The statement's own text (leading and trailing whitespace removed).
    public var text: String
    /// The top-level parse node name (`SelectStmt`, `CreateStmt`…), for logs and `other`.
    public var nodeType: String

    public var tablesRead: [TableName] = []
    public var tablesWritten: [TableName] = []
    /// Every function called, as written (`lower`, `myschema.f`); SQL value functions such as
    /// `CURRENT_TIMESTAMP` appear under their SQL name in lower case.
    public var functions: [String] = []
    /// The subset of `functions` that may return different results for the same input
    /// (volatile, time- or session-dependent, or simply not on the built-in allow list).
    public var volatileFunctions: [String] = []
    /// The subset of `volatileFunctions` that are not built-ins pgstash knows: user functions,
    /// which may also write any table.
    public var unknownFunctions: [String] = []
    /// Column names the statement references: the last field of every column reference
    /// (`a`, `o.a`, `s.o.a`) and every `JOIN … USING` column, in order of first appearance.
    /// A name may also be an output alias (`ORDER BY total`) or a CTE's or subquery's column.
    public var columnsReferenced: [String] = []
    /// Some reference may stand for every column of a relation: `*`, `t.*`, `NATURAL JOIN`, or a
    /// one-field reference that is also the name or alias of a relation read (`SELECT o FROM
    /// orders o`, `row_to_json(o)`), which PostgreSQL may read as a whole-row reference.
    public var referencesAllColumns = false
    /// UPDATE: the columns its SET list assigns (of every UPDATE in the statement).
    public var columnsAssigned: [String] = []
    /// The statement changes data or schema (including data-modifying CTEs and SELECT INTO).
    public var isWrite = false
    /// Contains `FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE` somewhere.
    public var hasLocking = false
    /// Contains a data-modifying CTE (`WITH d AS (DELETE …) …`).
    public var hasDataModifyingCTE = false
    /// `SELECT … INTO t` or `CREATE TABLE t AS`.
    public var createsTableFromQuery = false
    /// Tables in `pg_catalog`/`information_schema`, or unqualified `pg_*` names.
    public var systemCatalogs: [TableName] = []
    /// Tables known to be temporary: created `TEMP`, or named in `pg_temp`.
    public var temporaryTables: [TableName] = []
    /// `CREATE TEMP TABLE`, `CREATE TEMP TABLE … AS`, `SELECT … INTO TEMP`.
    public var createsTemporaryTable = false
    /// The temporary table is created `ON COMMIT DROP`: it ends with its transaction.
    public var temporaryTableDroppedAtCommit = false
    /// Calls a session-level advisory lock function (`pg_advisory_lock`, `pg_try_advisory_lock`,
    /// their `_shared` forms and the unlock functions); the `_xact_` variants do not count.
    public var usesSessionAdvisoryLock = false
    /// Calls `set_config` with an is_local other than the constant true: a session setting.
    public var setsSessionConfig = false
    /// A DO block whose body mentions LISTEN, temporary tables, advisory locks, WITH HOLD or
    /// set_config (its dynamic SQL cannot be parsed).
    public var doBodyMayChangeSession = false

    public var cacheable = false
    /// Why the statement is not cacheable, in words for a DBA; nil when cacheable.
    public var reason: String?
    /// 16 hex digits; equal for statements differing only in constants, `$n` numbers and
    /// whitespace. Never a cache key by itself: it ignores the constants.
    public var fingerprint: String = ""
    /// The text with each constant replaced by `$n` (numbered after any `$n` already present),
    /// whitespace runs collapsed and comments removed.
    public var normalized: String = ""

    // Statement-specific fields.
    /// BEGIN / START TRANSACTION options.
    public var transactionOptions: TransactionOptions?
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO` name, or the gid of a two-phase command.
    public var transactionName: String?
    /// SET / RESET details.
    public var setting: VariableSetting?
    /// SHOW variable, lower-cased (`all` for SHOW ALL).
    public var showName: String?
    /// LISTEN / NOTIFY / UNLISTEN channel; nil for `UNLISTEN *`.
    public var channel: String?
    /// PREPARE / EXECUTE / DEALLOCATE statement name; nil for `DEALLOCATE ALL`.
    public var preparedName: String?
    /// DECLARE / FETCH / CLOSE cursor name; nil for `CLOSE ALL`.
    public var cursorName: String?
    /// DECLARE … WITH HOLD: the cursor outlives its transaction.
    public var cursorWithHold = false
    /// DISCARD target.
    public var discardTarget: DiscardTarget?
    /// EXPLAIN ANALYZE: the explained statement is executed.
    public var explainAnalyze = false
    /// The kind of the statement inside EXPLAIN, PREPARE or DECLARE CURSOR.
    public var innerKind: StatementKind?

    private var inner: [StatementAnalysis] = []

    /// For PREPARE: the full analysis of the prepared query (its own fingerprint and verdict).
    public var preparedStatement: StatementAnalysis? {
        get { inner.first }
        set { inner = newValue.map { [$0] } ?? [] }
    }

    public init(kind: StatementKind, text: String, nodeType: String) {
        self.kind = kind
        self.text = text
        self.nodeType = nodeType
    }
}

/// The result of analysing a query string.
public enum Analysis: Sendable, Equatable {
    /// One analysis per statement, in order; empty for a string of only comments or spaces.
    case statements([StatementAnalysis])
    /// The SQL does not parse: the parser's message and its 1-based character position
    /// (0 when the parser gave none). Such SQL is passed through, never cached. A position
    /// of -1 means pgstash did not analyse it (too large, or a tree it could not read):
    /// PostgreSQL may well run it.
    case error(message: String, position: Int)

    /// The statements, or an empty array for an error.
    public var statements: [StatementAnalysis] {
        if case .statements(let list) = self { return list }
        return []
    }

    /// Whether any statement writes.
    public var isWrite: Bool { statements.contains { $0.isWrite } }

    /// The tables written by all statements, in order of first appearance.
    public var tablesWritten: [TableName] {
        var out: [TableName] = []
        for statement in statements {
            for table in statement.tablesWritten where !out.contains(table) { out.append(table) }
        }
        return out
    }

    /// Cacheable only if there is exactly one statement and it is cacheable.
    public var cacheable: Bool {
        if case .statements(let list) = self, list.count == 1 { return list[0].cacheable }
        return false
    }
}
