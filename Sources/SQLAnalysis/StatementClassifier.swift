/// Turns one `stmts[i].stmt` of the parse tree into a `StatementAnalysis` (without the verdict,
/// fingerprint and normalized text, which `SQLAnalyzer` adds).
struct StatementClassifier {
    let tape: JSONTape
    /// The whole query's UTF-8 bytes; parse-tree locations index into it.
    let query: UnsafeBufferPointer<UInt8>
    /// This statement's byte range in `query`.
    let range: Range<Int>

    func classify(statement stmt: Int, text: String) -> (StatementAnalysis, TreeWalker) {
        var walker = TreeWalker(tape: tape)
        let type = stmt + 1
        guard tape.node(stmt).kind == .object, Int(tape.node(stmt).end) > type else {
            return (StatementAnalysis(kind: .other, text: text, nodeType: ""), walker)
        }
        let nodeType = tape.key(type)
        var result = StatementAnalysis(kind: .other, text: text, nodeType: nodeType)
        let inner = type

        switch nodeType {
        case "SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt":
            result.kind = Self.dmlKinds[nodeType] ?? .other
            walker.walkNode(type: type, inner: inner)
        case "CopyStmt":
            let isFrom = tape.member(inner, "is_from").map { tape.isTrue($0) } ?? false
            result.kind = isFrom ? .copyFrom : .copyTo
            walker.walkFields(inner, writeTargets: isFrom ? .relation : [])
        case "TruncateStmt":
            result.kind = .truncate
            walker.walkFields(inner, writeTargets: .relations)
        case "TransactionStmt":
            classifyTransaction(inner, into: &result)
        case "VariableSetStmt":
            classifySet(inner, into: &result, walker: &walker)
        case "VariableShowStmt":
            result.kind = .show
            result.showName = stringMember(inner, "name")?.lowercased()
        case "ListenStmt", "UnlistenStmt", "NotifyStmt":
            result.kind = nodeType == "ListenStmt" ? .listen : nodeType == "NotifyStmt" ? .notify : .unlisten
            result.channel = stringMember(inner, "conditionname")
        case "PrepareStmt":
            result.kind = .prepare
            result.preparedName = stringMember(inner, "name")
            result.innerKind = innerKind(of: tape.member(inner, "query"))
            if let body = PrepareText.queryText(ofPrepare: text),
               case .statements(let list) = SQLAnalyzer.analyze(body), list.count == 1 {
                result.preparedStatement = list[0]
            }
        case "ExecuteStmt":
            result.kind = .execute
            result.preparedName = stringMember(inner, "name")
            walker.walkFields(inner, writeTargets: [])
        case "DeallocateStmt":
            result.kind = .deallocate
            result.preparedName = stringMember(inner, "name")
        case "CallStmt", "DoStmt":
            result.kind = nodeType == "CallStmt" ? .call : .do
            if nodeType == "DoStmt" { result.doBodyMayChangeSession = doBodyMayChangeSession(inner) }
            walker.walkFields(inner, writeTargets: [])
        case "LockStmt":
            result.kind = .lock
            walker.walkFields(inner, writeTargets: [])
        case "VacuumStmt":
            let vacuum = tape.member(inner, "is_vacuumcmd").map { tape.isTrue($0) } ?? false
            result.kind = vacuum ? .vacuum : .analyze
            walker.walkFields(inner, writeTargets: [])
        case "ExplainStmt":
            result.kind = .explain
            result.explainAnalyze = explainAnalyzes(inner)
            result.innerKind = innerKind(of: tape.member(inner, "query"))
            if let query = tape.member(inner, "query"), let execute = tape.member(query, "ExecuteStmt") {
                // EXPLAIN [ANALYZE] EXECUTE name: runs (or plans) a prepared statement.
                var target = StatementAnalysis(kind: .execute, text: text, nodeType: "ExecuteStmt")
                target.preparedName = stringMember(execute, "name")
                result.preparedStatement = target
                result.innerKind = .execute
            }
            walker.walkFields(inner, writeTargets: [])
            if !result.explainAnalyze {
                // Plain EXPLAIN plans the statement without running it: nothing is written.
                for table in walker.tablesWritten where !walker.tablesRead.contains(table) {
                    walker.tablesRead.append(table)
                }
                walker.tablesWritten = []
                walker.writeNodes = 0
                walker.writeNodesInCTEs = 0
                walker.hasInto = false
            }
        case "DeclareCursorStmt":
            result.kind = .declareCursor
            result.cursorName = stringMember(inner, "portalname")
            let options = tape.member(inner, "options").flatMap { tape.integer($0) } ?? 0
            result.cursorWithHold = options & Self.cursorOptionHold != 0
            result.innerKind = innerKind(of: tape.member(inner, "query"))
            walker.walkFields(inner, writeTargets: [])
        case "FetchStmt", "ClosePortalStmt":
            result.kind = nodeType == "FetchStmt" ? .fetch : .closeCursor
            result.cursorName = stringMember(inner, "portalname")
        case "DiscardStmt":
            result.kind = .discard
            if let target = stringMember(inner, "target"), target.hasPrefix("DISCARD_") {
                result.discardTarget = DiscardTarget(rawValue: target.dropFirst(8).lowercased())
            }
        case "DropStmt":
            result.kind = .ddl
            if let removeType = stringMember(inner, "removeType"), Self.droppedRelationTypes.contains(removeType),
               let objects = tape.member(inner, "objects") {
                walker.recordDroppedNames(objects)
            }
        case "CreateTableAsStmt":
            result.kind = .ddl
            walker.walkFields(inner, writeTargets: .into)
        default:
            if Self.isDDL(nodeType) {
                result.kind = .ddl
                walker.walkFields(inner, writeTargets: [.relation, .relations, .view])
            } else {
                walker.walkFields(inner, writeTargets: [])
            }
        }
        fill(&result, from: walker)
        if result.createsTemporaryTable { result.temporaryTableDroppedAtCommit = dropsAtCommit(inner) }
        return (result, walker)
    }

    private func fill(_ result: inout StatementAnalysis, from walker: TreeWalker) {
        result.tablesRead = walker.tablesRead
        result.tablesWritten = walker.tablesWritten
        result.functions = walker.functions
        result.volatileFunctions = walker.volatileFunctions
        result.unknownFunctions = walker.unknownFunctions
        result.columnsReferenced = walker.columnsReferenced
        result.referencesAllColumns = walker.mayReferenceWholeRows
        result.columnsAssigned = walker.columnsAssigned
        result.hasLocking = walker.hasLocking
        result.hasDataModifyingCTE = walker.writeNodesInCTEs > 0
        result.createsTableFromQuery = walker.hasInto
        result.systemCatalogs = walker.systemCatalogs
        result.temporaryTables = walker.temporaryTables
        let creates = walker.hasInto || result.nodeType == "CreateStmt" || result.nodeType == "ViewStmt"
        result.createsTemporaryTable = creates && walker.tablesWritten.contains(where: walker.temporaryTables.contains)
        result.usesSessionAdvisoryLock = walker.usesSessionAdvisoryLock
        result.setsSessionConfig = walker.setsSessionConfig
        switch result.kind {
        case .insert, .update, .delete, .merge, .copyFrom, .ddl, .truncate:
            result.isWrite = true
        default:
            result.isWrite = walker.writeNodes > 0 || walker.hasInto
        }
    }

    // MARK: - Transaction control

    private func classifyTransaction(_ inner: Int, into result: inout StatementAnalysis) {
        let kind = stringMember(inner, "kind") ?? ""
        result.kind = Self.transactionKinds[kind] ?? .other
        switch result.kind {
        case .begin:
            result.transactionOptions = tape.member(inner, "options").map { transactionOptions($0) }
                ?? TransactionOptions()
        case .savepoint, .release, .rollbackToSavepoint:
            result.transactionName = stringMember(inner, "savepoint_name")
        case .prepareTransaction, .commitPrepared, .rollbackPrepared:
            result.transactionName = stringMember(inner, "gid")
        default:
            break
        }
    }

    /// `transaction_isolation`, `transaction_read_only`, `transaction_deferrable` DefElems.
    private func transactionOptions(_ list: Int) -> TransactionOptions {
        var options = TransactionOptions()
        tape.forEachChild(list) { item in
            guard let def = tape.member(item, "DefElem"), let name = stringMember(def, "defname"),
                  let arg = tape.member(def, "arg"), let constant = tape.member(arg, "A_Const") else { return }
            let value = ConstantValue(tape: tape, constant: constant)
            switch name {
            case "transaction_isolation":
                if case .string(let level) = value { options.isolationLevel = IsolationLevel(rawValue: level.lowercased()) }
            case "transaction_read_only":
                options.readOnly = value.truthValue
            case "transaction_deferrable":
                options.deferrable = value.truthValue
            default:
                break
            }
        }
        return options
    }

    // MARK: - SET / RESET

    private func classifySet(_ inner: Int, into result: inout StatementAnalysis, walker: inout TreeWalker) {
        let kind = stringMember(inner, "kind") ?? ""
        let rawName = stringMember(inner, "name")
        var setting = VariableSetting()
        setting.isLocal = tape.member(inner, "is_local").map { tape.isTrue($0) } ?? false
        result.kind = .set
        switch kind {
        case "VAR_RESET", "VAR_RESET_ALL":
            result.kind = .reset
            setting.isReset = true
            setting.isResetAll = kind == "VAR_RESET_ALL"
            setting.name = setting.isResetAll ? nil : rawName?.lowercased()
        case "VAR_SET_MULTI":
            let upper = rawName ?? ""
            setting.target = upper.hasPrefix("SESSION CHARACTERISTICS") ? .sessionCharacteristics : .transaction
            if let args = tape.member(inner, "args") {
                setting.transactionOptions = transactionOptions(args)
                if upper == "TRANSACTION SNAPSHOT" {
                    setting.name = "transaction_snapshot"
                    setting.value = valueText(args)
                }
            }
        case "VAR_SET_DEFAULT":
            setting.name = rawName?.lowercased()
            setting.value = "DEFAULT"
        case "VAR_SET_CURRENT":
            setting.name = rawName?.lowercased()
            setting.isFromCurrent = true
        default:
            setting.name = rawName?.lowercased()
            if let args = tape.member(inner, "args") {
                setting.value = valueText(args)
                walker.walkValue(args)
            }
        }
        result.setting = setting
    }

    /// The SQL text of a SET value: from the first argument's location to the statement's end.
    private func valueText(_ args: Int) -> String? {
        var earliest = Int.max
        let end = Int(tape.node(args).end)
        for index in (args + 1)..<max(end, args + 1) where tape.keyEquals(index, "location") {
            if let location = tape.integer(index), location >= 0 { earliest = min(earliest, location) }
        }
        guard earliest >= range.lowerBound, earliest < range.upperBound else { return nil }
        let slice = UnsafeBufferPointer(rebasing: query[earliest..<range.upperBound])
        return String(decoding: slice, as: UTF8.self).trimmingSpaces
    }

    // MARK: - Helpers

    /// `ON COMMIT DROP` on a CREATE TABLE (`oncommit`) or CREATE TABLE AS (`into.onCommit`).
    private func dropsAtCommit(_ inner: Int) -> Bool {
        if let v = tape.member(inner, "oncommit"), tape.valueEquals(v, "ONCOMMIT_DROP") { return true }
        if let into = tape.member(inner, "into"), let v = tape.member(into, "onCommit"), tape.valueEquals(v, "ONCOMMIT_DROP") {
            return true
        }
        return false
    }

    /// A DO block's body is PL code the parser does not look into, and its dynamic SQL is a
    /// string: a conservative word scan says whether it may leave session state behind
    /// (LISTEN, temporary tables, session advisory locks, WITH HOLD cursors, set_config).
    private func doBodyMayChangeSession(_ inner: Int) -> Bool {
        guard let args = tape.member(inner, "args") else { return false }
        var body = ""
        tape.forEachChild(args) { item in
            guard let def = tape.member(item, "DefElem"), stringMember(def, "defname") == "as",
                  let arg = tape.member(def, "arg"), let string = tape.member(arg, "String"),
                  let sval = stringMember(string, "sval") else { return }
            body = sval
        }
        return SessionWords.mayChangeSession(body)
    }

    private func explainAnalyzes(_ inner: Int) -> Bool {
        guard let options = tape.member(inner, "options") else { return false }
        var analyze = false
        tape.forEachChild(options) { item in
            guard let def = tape.member(item, "DefElem"), stringMember(def, "defname") == "analyze" else { return }
            guard let arg = tape.member(def, "arg") else { analyze = true; return }
            if let string = tape.member(arg, "String"), let sval = stringMember(string, "sval") {
                analyze = ["true", "on", "1", "yes"].contains(sval.lowercased())
            } else if let constant = tape.member(arg, "A_Const") {
                analyze = ConstantValue(tape: tape, constant: constant).truthValue ?? true
            } else if let integer = tape.member(arg, "Integer") {
                analyze = tape.member(integer, "ival").flatMap { tape.integer($0) } ?? 0 != 0
            } else {
                analyze = true
            }
        }
        return analyze
    }

    private func innerKind(of query: Int?) -> StatementKind? {
        guard let query, Int(tape.node(query).end) > query + 1 else { return nil }
        let name = tape.key(query + 1)
        return Self.dmlKinds[name] ?? (Self.isDDL(name) ? .ddl : .other)
    }

    private func stringMember(_ index: Int, _ key: StaticString) -> String? {
        guard let member = tape.member(index, key), tape.node(member).kind == .string else { return nil }
        return tape.string(member)
    }

    static func isDDL(_ nodeType: String) -> Bool {
        nodeType.hasPrefix("Create") || nodeType.hasPrefix("Alter") || nodeType.hasPrefix("Drop")
            || otherDDL.contains(nodeType)
    }

    /// `CURSOR_OPT_HOLD` in PostgreSQL's parsenodes.h.
    static let cursorOptionHold = 0x0020

    static let dmlKinds: [String: StatementKind] = [
        "SelectStmt": .select, "InsertStmt": .insert, "UpdateStmt": .update,
        "DeleteStmt": .delete, "MergeStmt": .merge,
    ]

    static let transactionKinds: [String: StatementKind] = [
        "TRANS_STMT_BEGIN": .begin, "TRANS_STMT_START": .begin, "TRANS_STMT_COMMIT": .commit,
        "TRANS_STMT_ROLLBACK": .rollback, "TRANS_STMT_SAVEPOINT": .savepoint,
        "TRANS_STMT_RELEASE": .release, "TRANS_STMT_ROLLBACK_TO": .rollbackToSavepoint,
        "TRANS_STMT_PREPARE": .prepareTransaction, "TRANS_STMT_COMMIT_PREPARED": .commitPrepared,
        "TRANS_STMT_ROLLBACK_PREPARED": .rollbackPrepared,
    ]

    static let droppedRelationTypes: Set<String> = [
        "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE",
    ]

    static let otherDDL: Set<String> = [
        "IndexStmt", "ViewStmt", "RenameStmt", "RuleStmt", "CommentStmt", "GrantStmt", "GrantRoleStmt",
        "DefineStmt", "CompositeTypeStmt", "RefreshMatViewStmt", "SecLabelStmt", "ReassignOwnedStmt",
        "ImportForeignSchemaStmt",
    ]
}

/// The value of an `A_Const` node. Zero and false are omitted from libpg_query's JSON
/// (`{"ival":{}}` is 0), so absence is a value too.
enum ConstantValue: Equatable {
    case integer(Int), float(String), string(String), boolean(Bool), null

    init(tape: JSONTape, constant: Int) {
        if let ival = tape.member(constant, "ival") {
            self = .integer(tape.member(ival, "ival").flatMap { tape.integer($0) } ?? 0)
        } else if let sval = tape.member(constant, "sval") {
            self = .string(tape.member(sval, "sval").map { tape.string($0) } ?? "")
        } else if let boolval = tape.member(constant, "boolval") {
            self = .boolean(tape.member(boolval, "boolval").map { tape.isTrue($0) } ?? false)
        } else if let fval = tape.member(constant, "fval") {
            self = .float(tape.member(fval, "fval").map { tape.string($0) } ?? "0")
        } else {
            self = .null
        }
    }

    /// Read as a boolean option: 1/0, true/false, on/off.
    var truthValue: Bool? {
        switch self {
        case .integer(let value): return value != 0
        case .boolean(let value): return value
        case .string(let text):
            switch text.lowercased() {
            case "true", "on", "yes", "1": return true
            case "false", "off", "no", "0": return false
            default: return nil
            }
        default: return nil
        }
    }
}
