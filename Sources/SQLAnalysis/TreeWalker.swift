/// Which fields of the object being walked name tables the statement writes.
struct WriteTargets: OptionSet {
    let rawValue: UInt8
    /// `relation` (INSERT/UPDATE/DELETE/MERGE target, most DDL, COPY FROM).
    static let relation = WriteTargets(rawValue: 1)
    /// `relations` (TRUNCATE).
    static let relations = WriteTargets(rawValue: 2)
    /// `view` (CREATE VIEW).
    static let view = WriteTargets(rawValue: 4)
    /// `into` (CREATE TABLE AS).
    static let into = WriteTargets(rawValue: 8)
}

/// One pass over a statement's parse tree collecting tables, functions and the traps that make
/// a statement more than a plain read. CTE names are scoped as PostgreSQL scopes them: a
/// non-recursive CTE is visible to later CTEs of its WITH and to the body, a recursive one
/// also to itself and its siblings, and an inner WITH shadows an outer one.
struct TreeWalker {
    let tape: JSONTape

    var tablesRead: [TableName] = []
    var tablesWritten: [TableName] = []
    var functions: [String] = []
    var volatileFunctions: [String] = []
    var unknownFunctions: [String] = []
    var systemCatalogs: [TableName] = []
    var temporaryTables: [TableName] = []
    /// INSERT/UPDATE/DELETE/MERGE nodes seen, wherever they are.
    var writeNodes = 0
    var writeNodesInCTEs = 0
    var hasLocking = false
    var hasInto = false
    var usesSessionAdvisoryLock = false
    /// A `set_config(name, value, is_local)` call whose is_local is not the constant true.
    var setsSessionConfig = false
    var castsTimeLiteral = false
    var hasUnrepeatableSample = false
    var tooDeep = false
    /// The last field of every column reference and every `USING` column, in order of first appearance.
    var columnsReferenced: [String] = []
    /// A `*`, `t.*` or NATURAL JOIN: every column of some table is referenced.
    var referencesAllColumns = false
    /// The columns UPDATE statements assign (`SET a = …, (b, c) = …`).
    var columnsAssigned: [String] = []
    /// One-field column references (`x`): a column, or a whole-row reference to a table or alias.
    var singleFieldReferences: Set<String> = []
    /// Names and aliases of the relations in FROM and write targets; a one-field reference to
    /// one of them may be a whole-row reference (`SELECT o FROM orders o`).
    var rangeNames: Set<String> = []

    /// Whether some column reference may stand for whole rows of a relation: `*`, `t.*`,
    /// `NATURAL JOIN`, or a one-field reference that is also a relation's name or alias.
    var mayReferenceWholeRows: Bool {
        referencesAllColumns || !singleFieldReferences.isDisjoint(with: rangeNames)
    }

    private var scopes: [[String]] = []
    private var depth = 0
    private static let maximumDepth = 1500

    init(tape: JSONTape) { self.tape = tape }

    // MARK: - Generic descent

    mutating func walkValue(_ index: Int) {
        switch tape.node(index).kind {
        case .object: walkObject(index)
        case .array: tape.forEachChild(index) { walkValue($0) }
        default: break
        }
    }

    /// An object is either a node wrapper (`{"TypeName": {...}}`) or an unwrapped node.
    mutating func walkObject(_ index: Int) {
        let node = tape.node(index)
        let first = index + 1
        if Int(node.end) > first, Int(tape.node(first).end) == Int(node.end),
           tape.node(first).kind == .object, isTypeName(first) {
            walkNode(type: first, inner: first)
        } else {
            walkFields(index, writeTargets: [])
        }
    }

    private func isTypeName(_ index: Int) -> Bool {
        let n = tape.node(index)
        guard n.keyLength > 0 else { return false }
        let c = tape.bytes[Int(n.keyStart)]
        return c >= 0x41 && c <= 0x5A
    }

    /// A wrapped node: `type` is the member whose key is the node type, `inner` its object.
    mutating func walkNode(type: Int, inner: Int) {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { tooDeep = true; return }
        switch tape.node(type).keyLength {
        case 7 where tape.keyEquals(type, "A_Const"), 6 where tape.keyEquals(type, "String"),
             8 where tape.keyEquals(type, "ParamRef"):
            return
        case 9 where tape.keyEquals(type, "ColumnRef"):
            recordColumnRef(inner)
        case 8 where tape.keyEquals(type, "JoinExpr"):
            recordJoinColumns(inner)
            walkFields(inner, writeTargets: [])
        case 8 where tape.keyEquals(type, "RangeVar"):
            recordRangeVar(inner, written: false)
        case 8 where tape.keyEquals(type, "FuncCall"):
            recordFunctionCall(inner)
            walkFields(inner, writeTargets: [])
        case 16 where tape.keyEquals(type, "SQLValueFunction"):
            recordValueFunction(inner)
        case 10 where tape.keyEquals(type, "InsertStmt"), 10 where tape.keyEquals(type, "UpdateStmt"),
             10 where tape.keyEquals(type, "DeleteStmt"), 9 where tape.keyEquals(type, "MergeStmt"):
            writeNodes += 1
            if tape.keyEquals(type, "UpdateStmt") { recordAssignedColumns(inner) }
            walkFields(inner, writeTargets: .relation)
        case 8 where tape.keyEquals(type, "TypeCast"):
            noteTimeLiteral(inner)
            walkFields(inner, writeTargets: [])
        case 16 where tape.keyEquals(type, "RangeTableSample"):
            if tape.member(inner, "repeatable") == nil { hasUnrepeatableSample = true }
            walkFields(inner, writeTargets: [])
        default:
            walkFields(inner, writeTargets: [])
        }
    }

    /// The members of an (unwrapped) node object.
    mutating func walkFields(_ index: Int, writeTargets: WriteTargets) {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { tooDeep = true; return }
        if tape.member(index, "relname") != nil {
            recordRangeVar(index, written: !writeTargets.isEmpty)
            return
        }
        var pushedScope = false
        if let with = tape.member(index, "withClause") {
            enterWith(with)
            pushedScope = true
        }
        var child = index + 1
        let end = Int(tape.node(index).end)
        while child < end {
            defer { child = Int(tape.node(child).end) }
            let node = tape.node(child)
            guard node.kind == .object || node.kind == .array else { continue }
            switch node.keyLength {
            case 10 where tape.keyEquals(child, "withClause"):
                continue
            case 13 where tape.keyEquals(child, "lockingClause"):
                // Its `lockedRels` name aliases (`FOR UPDATE OF o`), not tables.
                if tape.childCount(child) > 0 { hasLocking = true }
            case 10 where tape.keyEquals(child, "intoClause"):
                walkInto(child)
            case 4 where writeTargets.contains(.into) && tape.keyEquals(child, "into"):
                walkInto(child)
            case 8 where writeTargets.contains(.relation) && tape.keyEquals(child, "relation"):
                recordRangeVarValue(child, written: true)
            case 9 where writeTargets.contains(.relations) && tape.keyEquals(child, "relations"):
                tape.forEachChild(child) { recordRangeVarValue($0, written: true) }
            case 4 where writeTargets.contains(.view) && tape.keyEquals(child, "view"):
                recordRangeVarValue(child, written: true)
            case 8 where tape.keyEquals(child, "funccall"):
                recordFunctionCall(child)
                walkFields(child, writeTargets: [])
            default:
                walkValue(child)
            }
        }
        if pushedScope { scopes.removeLast() }
    }

    // MARK: - CTE scopes

    private mutating func enterWith(_ with: Int) {
        let recursive = tape.member(with, "recursive").map { tape.isTrue($0) } ?? false
        guard let ctes = tape.member(with, "ctes") else { scopes.append([]); return }
        var entries: [(name: String, query: Int?)] = []
        tape.forEachChild(ctes) { item in
            let cte = tape.member(item, "CommonTableExpr") ?? item
            guard let name = tape.member(cte, "ctename") else { return }
            entries.append((tape.string(name), tape.member(cte, "ctequery")))
        }
        scopes.append(recursive ? entries.map(\.name) : [])
        for entry in entries {
            let before = writeNodes
            if let query = entry.query { walkValue(query) }
            if writeNodes > before { writeNodesInCTEs += writeNodes - before }
            if !recursive { scopes[scopes.count - 1].append(entry.name) }
        }
    }

    private func isCTEName(_ name: String) -> Bool {
        for scope in scopes.reversed() where scope.contains(name) { return true }
        return false
    }

    // MARK: - Tables

    private mutating func walkInto(_ index: Int) {
        hasInto = true
        if let rel = tape.member(index, "rel") { recordRangeVarValue(rel, written: true) }
    }

    /// A field whose value is a RangeVar, wrapped or not.
    private mutating func recordRangeVarValue(_ index: Int, written: Bool) {
        guard tape.node(index).kind == .object else { return }
        if let inner = tape.member(index, "RangeVar") {
            recordRangeVar(inner, written: written)
        } else if tape.member(index, "relname") != nil {
            recordRangeVar(index, written: written)
        } else {
            walkValue(index)
        }
    }

    mutating func recordRangeVar(_ index: Int, written: Bool) {
        guard let relname = tape.member(index, "relname") else { return }
        let name = tape.string(relname)
        let schema = tape.member(index, "schemaname").map { tape.string($0) }
        // The target of a write is never a CTE; a reference with a schema never is either.
        if !written, schema == nil, isCTEName(name) { return }
        let table = TableName(schema: schema, name: name)
        rangeNames.insert(name)
        if let alias = tape.member(index, "alias"), let aliasName = tape.member(alias, "aliasname") {
            rangeNames.insert(tape.string(aliasName))
        }
        if let persistence = tape.member(index, "relpersistence"), tape.valueEquals(persistence, "t") {
            appendUnique(table, to: &temporaryTables)
        }
        if let schema {
            if schema == "pg_catalog" || schema == "information_schema" { appendUnique(table, to: &systemCatalogs) }
            if schema == "pg_temp" || schema.hasPrefix("pg_temp_") { appendUnique(table, to: &temporaryTables) }
        } else if name.hasPrefix("pg_") {
            appendUnique(table, to: &systemCatalogs)
        }
        if written { appendUnique(table, to: &tablesWritten) } else { appendUnique(table, to: &tablesRead) }
    }

    /// DROP TABLE/VIEW names are lists of strings, not RangeVars.
    mutating func recordDroppedNames(_ objects: Int) {
        tape.forEachChild(objects) { item in
            guard let list = tape.member(item, "List"), let items = tape.member(list, "items") else { return }
            var parts: [String] = []
            tape.forEachChild(items) { part in
                if let string = tape.member(part, "String"), let sval = tape.member(string, "sval") {
                    parts.append(tape.string(sval))
                }
            }
            guard let name = parts.last else { return }
            let schema = parts.count >= 2 ? parts[parts.count - 2] : nil
            appendUnique(TableName(schema: schema, name: name), to: &tablesWritten)
        }
    }

    // MARK: - Columns

    /// `a`, `t.a`, `s.t.a`: the column is the last field; `*` or `t.*` reference every column.
    private mutating func recordColumnRef(_ index: Int) {
        guard let fields = tape.member(index, "fields") else { return }
        var last: Int?
        tape.forEachChild(fields) { last = $0 }
        guard let last else { return }
        if tape.member(last, "A_Star") != nil {
            referencesAllColumns = true
        } else if let string = tape.member(last, "String"), let sval = tape.member(string, "sval") {
            let name = tape.string(sval)
            appendUnique(name, to: &columnsReferenced)
            if tape.childCount(fields) == 1 { singleFieldReferences.insert(name) }
        }
    }

    /// `NATURAL JOIN` compares every column the two sides share; `USING (a)` names its columns.
    private mutating func recordJoinColumns(_ index: Int) {
        if let natural = tape.member(index, "isNatural"), tape.isTrue(natural) { referencesAllColumns = true }
        guard let using = tape.member(index, "usingClause") else { return }
        tape.forEachChild(using) { part in
            if let string = tape.member(part, "String"), let sval = tape.member(string, "sval") {
                appendUnique(tape.string(sval), to: &columnsReferenced)
            }
        }
    }

    /// The target columns of an UPDATE's SET list (a multi-column `(b, c) = …` has one target each).
    private mutating func recordAssignedColumns(_ index: Int) {
        guard let list = tape.member(index, "targetList") else { return }
        tape.forEachChild(list) { item in
            guard let target = tape.member(item, "ResTarget"), let name = tape.member(target, "name") else { return }
            appendUnique(tape.string(name), to: &columnsAssigned)
        }
    }

    // MARK: - Functions

    private mutating func recordFunctionCall(_ index: Int) {
        guard let funcname = tape.member(index, "funcname") else { return }
        var name = ""
        tape.forEachChild(funcname) { part in
            if let string = tape.member(part, "String"), let sval = tape.member(string, "sval") {
                if !name.isEmpty { name += "." }
                name += tape.string(sval)
            }
        }
        // SQL syntax such as EXTRACT(… FROM …) or AT TIME ZONE gets a pg_catalog prefix the
        // user never wrote; report the name the user sees.
        if name.hasPrefix("pg_catalog."), let format = tape.member(index, "funcformat"),
           tape.valueEquals(format, "COERCE_SQL_SYNTAX") {
            name.removeFirst("pg_catalog.".count)
        }
        let arguments = tape.member(index, "args").map { tape.childCount($0) } ?? 0
        recordFunction(name, volatility: FunctionVolatility.of(name, argumentCount: arguments))
        if FunctionVolatility.isSessionAdvisoryLock(name) { usesSessionAdvisoryLock = true }
        if name == "set_config" || name == "pg_catalog.set_config" { noteSetConfig(index) }
    }

    /// `set_config(…, true)` lasts until the end of the transaction; anything else (false, a
    /// parameter, an expression) may change the session.
    private mutating func noteSetConfig(_ index: Int) {
        var args: [Int] = []
        if let list = tape.member(index, "args") { tape.forEachChild(list) { args.append($0) } }
        if args.count == 3, let constant = tape.member(args[2], "A_Const"),
           ConstantValue(tape: tape, constant: constant).truthValue == true {
            return
        }
        setsSessionConfig = true
    }

    private mutating func recordValueFunction(_ index: Int) {
        guard let op = tape.member(index, "op") else { return }
        var name = tape.string(op)
        if name.hasPrefix("SVFOP_") { name.removeFirst(6) }
        if name.hasSuffix("_N") { name.removeLast(2) }
        recordFunction(name.lowercased(), volatility: .volatile)
    }

    private mutating func recordFunction(_ name: String, volatility: FunctionVolatility) {
        if !functions.contains(name) { functions.append(name) }
        guard volatility != .safe, !volatileFunctions.contains(name) else { return }
        volatileFunctions.append(name)
        if volatility == .unknown { unknownFunctions.append(name) }
    }

    /// `'now'::timestamptz`, `DATE 'today'`: PostgreSQL reads the clock when it sees these.
    private mutating func noteTimeLiteral(_ index: Int) {
        guard let arg = tape.member(index, "arg"), let constant = tape.member(arg, "A_Const"),
              let sval = tape.member(constant, "sval"), let inner = tape.member(sval, "sval"),
              let typeName = tape.member(index, "typeName"), let names = tape.member(typeName, "names") else { return }
        var last: String?
        tape.forEachChild(names) { part in
            if let string = tape.member(part, "String"), let name = tape.member(string, "sval") { last = tape.string(name) }
        }
        guard let type = last, Self.dateTimeTypes.contains(type) else { return }
        switch tape.string(inner).trimmingSpaces.lowercased() {
        case "now", "today", "tomorrow", "yesterday", "current": castsTimeLiteral = true
        default: break
        }
    }

    static let dateTimeTypes: Set<String> = ["date", "timestamp", "timestamptz", "time", "timetz"]

    private func appendUnique<T: Equatable>(_ item: T, to list: inout [T]) {
        if !list.contains(item) { list.append(item) }
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    var trimmingSpaces: String {
        let utf8 = self.utf8
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 || c == 0x0C }
        guard let first = utf8.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
