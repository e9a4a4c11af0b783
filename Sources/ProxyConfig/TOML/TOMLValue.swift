/// Where a configuration value came from: a line of a TOML file, or a command-line option.
public enum ValueOrigin: Sendable, Equatable {
    /// 1-based line of the file the value (or the key that holds it) starts on.
    case line(Int)
    /// A command-line option such as `-c pool.max_upstream=50`; `raw` is the text after `=`
    /// as typed (empty for `--listen` and `--upstream`), used when a string key gets a value
    /// that parsed as a number or boolean.
    case commandLine(option: String, raw: String)
}

/// One TOML value and where it was written.
public struct TOMLValue: Sendable, Equatable {
    /// The value itself. Arrays of tables are arrays whose elements are tables.
    public enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    public var kind: Kind
    public var origin: ValueOrigin

    public init(_ kind: Kind, origin: ValueOrigin) {
        self.kind = kind
        self.origin = origin
    }

    /// The 1-based line of the value in its file, nil when it came from the command line.
    public var line: Int? {
        if case .line(let n) = origin { return n }
        return nil
    }

    /// The TOML type name used in error messages: "string", "integer", "float"…
    public var typeName: String {
        switch kind {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        case .table: return "table"
        }
    }

    public var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    public var integer: Int? {
        if case .integer(let n) = kind { return n }
        return nil
    }

    public var float: Double? {
        if case .float(let x) = kind { return x }
        return nil
    }

    public var boolean: Bool? {
        if case .boolean(let b) = kind { return b }
        return nil
    }

    public var array: [TOMLValue]? {
        if case .array(let a) = kind { return a }
        return nil
    }

    public var table: TOMLTable? {
        if case .table(let t) = kind { return t }
        return nil
    }
}

/// A TOML table that keeps its keys in the order they were written.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The entries in the order they were written.
    public var entries: [(key: String, value: TOMLValue)] {
        keys.map { ($0, values[$0]!) }
    }

    public var isEmpty: Bool { keys.isEmpty }
}

/// A TOML syntax error at a 1-based line.
public struct TOMLSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "\(line): \(message)" }
}
