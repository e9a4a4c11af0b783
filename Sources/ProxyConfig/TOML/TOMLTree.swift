/// The mutable tree the parser builds while it reads; frozen into a `TOMLTable` at the end.
/// Tables are classes here because `[a.b]` headers and dotted keys reach back into tables
/// opened earlier.
final class TableNode {
    /// How a table came to exist, which decides whether it may be opened or extended again
    /// (TOML 1.0: a table is defined once; dotted keys cannot reach into a `[table]`).
    enum Kind {
        /// Created on the way to a deeper header (`[a.b]` creates `a`); a later `[a]` may define it.
        case implicit
        /// Defined by its own `[header]`, or the document root.
        case explicit
        /// Created by a dotted key (`a.b = 1` creates `a`).
        case dotted
    }

    var kind: Kind
    var line: Int
    var keys: [String] = []
    var entries: [String: Node] = [:]

    init(kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    func set(_ key: String, _ node: Node) {
        if entries.updateValue(node, forKey: key) == nil { keys.append(key) }
    }

    func frozen() -> TOMLTable {
        var table = TOMLTable()
        for key in keys {
            switch entries[key]! {
            case .value(let v):
                table[key] = v
            case .table(let t):
                table[key] = TOMLValue(.table(t.frozen()), origin: .line(t.line))
            case .tableArray(let a):
                let items = a.tables.map { TOMLValue(.table($0.frozen()), origin: .line($0.line)) }
                table[key] = TOMLValue(.array(items), origin: .line(a.line))
            }
        }
        return table
    }
}

/// `[[name]]`: the tables appended so far; new keys go into the last one.
final class TableArrayNode {
    var tables: [TableNode]
    let line: Int

    init(first: TableNode) {
        tables = [first]
        line = first.line
    }
}

/// An entry of a table under construction.
enum Node {
    /// A finished value (inline tables and static arrays are finished when read).
    case value(TOMLValue)
    case table(TableNode)
    case tableArray(TableArrayNode)

    var line: Int {
        switch self {
        case .value(let v): return v.line ?? 0
        case .table(let t): return t.line
        case .tableArray(let a): return a.line
        }
    }
}

extension TableNode {
    /// Opens `[path]`: creates it, or defines a table that only existed implicitly.
    static func openTable(root: TableNode, path: [String], line: Int) throws(TOMLSyntaxError) -> TableNode {
        let parent = try descend(root, through: path.dropLast(), line: line)
        let key = path[path.count - 1]
        let name = "[\(dotted(path))]"
        switch parent.entries[key] {
        case nil:
            let table = TableNode(kind: .explicit, line: line)
            parent.set(key, .table(table))
            return table
        case .table(let table) where table.kind == .implicit:
            table.kind = .explicit
            table.line = line
            return table
        case .table(let table):
            throw TOMLSyntaxError(line: line, message: "table \(name) is already defined on line \(table.line)")
        case .tableArray(let array):
            throw TOMLSyntaxError(
                line: line, message: "\(dotted(path)) is an array of tables (line \(array.line)); use [\(name)]")
        case .value(let value):
            throw TOMLSyntaxError(
                line: line, message: "\(dotted(path)) is already defined as a value on line \(value.line ?? 0)")
        }
    }

    /// Opens `[[path]]`: appends a new table to the array, creating the array if needed.
    static func appendTable(root: TableNode, path: [String], line: Int) throws(TOMLSyntaxError) -> TableNode {
        let parent = try descend(root, through: path.dropLast(), line: line)
        let key = path[path.count - 1]
        let table = TableNode(kind: .explicit, line: line)
        switch parent.entries[key] {
        case nil:
            parent.set(key, .tableArray(TableArrayNode(first: table)))
        case .tableArray(let array):
            array.tables.append(table)
        case .some(let other):
            throw TOMLSyntaxError(
                line: line,
                message: "\(dotted(path)) is already defined on line \(other.line) and is not an array of tables")
        }
        return table
    }

    /// Walks header segments, creating implicit tables and entering the last table of arrays.
    private static func descend(
        _ root: TableNode, through path: ArraySlice<String>, line: Int
    ) throws(TOMLSyntaxError) -> TableNode {
        var table = root
        var walked: [String] = []
        for key in path {
            walked.append(key)
            switch table.entries[key] {
            case nil:
                let child = TableNode(kind: .implicit, line: line)
                table.set(key, .table(child))
                table = child
            case .table(let child):
                table = child
            case .tableArray(let array):
                table = array.tables[array.tables.count - 1]
            case .value(let value):
                let what = value.table != nil ? "an inline table, which cannot be extended" : "a value"
                throw TOMLSyntaxError(
                    line: line, message: "\(dotted(walked)) is already defined as \(what) on line \(value.line ?? 0)")
            }
        }
        return table
    }

    /// Stores `a.b.c = value` in this table, creating dotted tables for `a` and `a.b`.
    func insert(path: [String], value: TOMLValue, line: Int) throws(TOMLSyntaxError) {
        var table = self
        var walked: [String] = []
        for key in path.dropLast() {
            walked.append(key)
            switch table.entries[key] {
            case nil:
                let child = TableNode(kind: .dotted, line: line)
                table.set(key, .table(child))
                table = child
            case .table(let child) where child.kind == .dotted:
                table = child
            case .table(let child):
                throw TOMLSyntaxError(
                    line: line,
                    message: "table \(TableNode.dotted(walked)) is already defined on line \(child.line); "
                        + "set its keys under its header")
            case .some(let other):
                throw TOMLSyntaxError(
                    line: line,
                    message: "\(TableNode.dotted(walked)) is already defined on line \(other.line) and is not a table")
            }
        }
        let key = path[path.count - 1]
        if let existing = table.entries[key] {
            throw TOMLSyntaxError(
                line: line,
                message: "duplicate key \(TableNode.dotted(path)) (first defined on line \(existing.line))")
        }
        table.set(key, .value(value))
    }

    /// Key path as written in messages: bare segments as is, others quoted.
    static func dotted<S: Sequence<String>>(_ path: S) -> String {
        path.map { key in
            let bare = !key.isEmpty && key.utf8.allSatisfy(TOMLReader.isBareKeyByte)
            return bare ? key : "\"\(key)\""
        }.joined(separator: ".")
    }
}
