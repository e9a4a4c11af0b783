/// Turns a parsed document into a `ProxyConfiguration`, collecting every error with the line
/// of the key it concerns. Each accessor returns nil when the key is absent or wrong (after
/// recording why), so the caller keeps the default and goes on to the next key.
struct ConfigMapper {
    let fileName: String
    /// Folder relative `auth_file` paths are resolved against ("" for the current folder).
    let baseDirectory: String
    /// Users known before the auth file is read (from `--upstream`).
    var initialUsers: [String: String] = [:]

    var errors: [ConfigError] = []
    /// Where each key that was read came from, by dotted path, for cross-key checks.
    var origins: [String: ValueOrigin] = [:]

    init(fileName: String, baseDirectory: String) {
        self.fileName = fileName
        self.baseDirectory = baseDirectory
    }

    // MARK: Reporting

    mutating func report(_ origin: ValueOrigin?, key: String?, _ message: String) {
        switch origin {
        case .line(let n)?:
            errors.append(ConfigError(file: fileName, line: n, key: key, message: message))
        case .commandLine(let option, _)?:
            errors.append(ConfigError(file: ConfigError.commandLine, line: nil, key: key, message: "\(option): \(message)"))
        case nil:
            errors.append(ConfigError(file: fileName, line: nil, key: key, message: message))
        }
    }

    /// Reports keys of `table` not in `allowed`, suggesting the closest valid one.
    mutating func checkKeys(_ table: TOMLTable, path: String, allowed: [String]) {
        for (key, value) in table.entries where !allowed.contains(key) {
            let full = Self.join(path, key)
            var message = path.isEmpty ? "unknown section [\(full)]" : "unknown key \(full)"
            if let guess = Suggestion.closest(to: key, in: allowed) {
                message += path.isEmpty ? "; did you mean [\(guess)]?" : "; did you mean \(guess)?"
            } else {
                message += path.isEmpty ? " (sections: " : " (valid keys: "
                message += allowed.joined(separator: ", ") + ")"
            }
            report(value.origin, key: full, message)
        }
    }

    static func join(_ path: String, _ key: String) -> String {
        let quoted = TableNode.dotted([key])
        return path.isEmpty ? quoted : "\(path).\(quoted)"
    }

    // MARK: Typed accessors

    /// The value at `key`, recording its origin.
    mutating func lookup(_ table: TOMLTable, _ key: String, _ path: String) -> TOMLValue? {
        guard let value = table[key] else { return nil }
        origins[Self.join(path, key)] = value.origin
        return value
    }

    mutating func wrongType(_ value: TOMLValue, _ full: String, _ expected: String) {
        report(value.origin, key: full, "\(full) must be \(expected), got \(value.typeName)")
    }

    /// A table (a section or sub-section); reports anything else.
    mutating func table(_ table: TOMLTable, _ key: String, in path: String, what: String = "a table") -> TOMLTable? {
        guard let value = lookup(table, key, path) else { return nil }
        guard let t = value.table else {
            wrongType(value, Self.join(path, key), what)
            return nil
        }
        return t
    }

    mutating func string(_ table: TOMLTable, _ key: String, in path: String, nonEmpty: Bool = false) -> String? {
        guard let value = lookup(table, key, path) else { return nil }
        let full = Self.join(path, key)
        let text: String
        if let s = value.string {
            text = s
        } else if case .commandLine(_, let raw) = value.origin, value.array == nil, value.table == nil {
            text = raw
        } else {
            wrongType(value, full, "a string")
            return nil
        }
        if nonEmpty, text.isEmpty {
            report(value.origin, key: full, "\(full) must not be empty")
            return nil
        }
        return text
    }

    mutating func bool(_ table: TOMLTable, _ key: String, in path: String) -> Bool? {
        guard let value = lookup(table, key, path) else { return nil }
        if let b = value.boolean { return b }
        wrongType(value, Self.join(path, key), "a boolean (true or false)")
        return nil
    }

    mutating func integer(_ table: TOMLTable, _ key: String, in path: String, range: ClosedRange<Int>) -> Int? {
        guard let value = lookup(table, key, path) else { return nil }
        guard let n = value.integer else {
            wrongType(value, Self.join(path, key), "an integer")
            return nil
        }
        return checked(n, range, value, Self.join(path, key))
    }

    /// Seconds: a number, or a string with a unit (`"200ms"`, `"30s"`, `"5m"`, `"1h"`).
    mutating func duration(_ table: TOMLTable, _ key: String, in path: String, positive: Bool = false) -> Double? {
        guard let value = lookup(table, key, path) else { return nil }
        let full = Self.join(path, key)
        let seconds: Double
        switch value.kind {
        case .integer(let n): seconds = Double(n)
        case .float(let x) where x.isFinite: seconds = x
        case .string(let s):
            guard let d = Units.duration(s) else {
                report(value.origin, key: full,
                    "\(full): invalid duration \"\(s)\"; use seconds or a string such as \"200ms\", \"30s\", \"5m\", \"1h\"")
                return nil
            }
            seconds = d
        default:
            wrongType(value, full, "a duration (seconds, or a string such as \"30s\")")
            return nil
        }
        guard positive ? seconds > 0 : seconds >= 0 else {
            let bound = positive ? "must be positive" : "must not be negative"
            report(value.origin, key: full, "\(full) \(bound), got \(Self.format(seconds))")
            return nil
        }
        return seconds
    }

    /// Bytes: an integer, or a string with a unit (`"64MB"`, `"1MiB"`, `"512kB"`).
    mutating func size(_ table: TOMLTable, _ key: String, in path: String, range: ClosedRange<Int>) -> Int? {
        guard let value = lookup(table, key, path) else { return nil }
        let full = Self.join(path, key)
        switch value.kind {
        case .integer(let n):
            return checked(n, range, value, full)
        case .string(let s):
            guard let n = Units.size(s) else {
                report(value.origin, key: full,
                    "\(full): invalid size \"\(s)\"; use bytes or a string such as \"512kB\", \"64MB\", \"1GB\"")
                return nil
            }
            return checked(n, range, value, full)
        default:
            wrongType(value, full, "a size (bytes, or a string such as \"64MB\")")
            return nil
        }
    }

    mutating func stringArray(_ table: TOMLTable, _ key: String, in path: String) -> [String]? {
        guard let value = lookup(table, key, path) else { return nil }
        let full = Self.join(path, key)
        let strings = value.array?.compactMap(\.string)
        guard let strings, strings.count == value.array?.count else {
            wrongType(value, full, "an array of strings")
            return nil
        }
        return strings
    }

    /// A string that must be one of `E`'s raw values.
    mutating func choice<E: RawRepresentable & CaseIterable>(
        _ table: TOMLTable, _ key: String, in path: String, as type: E.Type
    ) -> E? where E.RawValue == String {
        guard let text = string(table, key, in: path) else { return nil }
        if let e = E(rawValue: text) { return e }
        let full = Self.join(path, key)
        let names = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
        var message = "\(full) must be \(names), got \"\(text)\""
        if let guess = Suggestion.closest(to: text, in: E.allCases.map(\.rawValue)) {
            message += "; did you mean \"\(guess)\"?"
        }
        report(origins[full], key: full, message)
        return nil
    }

    private mutating func checked(_ n: Int, _ range: ClosedRange<Int>, _ value: TOMLValue, _ full: String) -> Int? {
        if range.contains(n) { return n }
        let bound: String
        if range.upperBound == .max {
            bound = range.lowerBound == 0 ? "must not be negative" : "must be at least \(range.lowerBound)"
        } else {
            bound = "must be between \(range.lowerBound) and \(range.upperBound)"
        }
        report(value.origin, key: full, "\(full) \(bound), got \(n)")
        return nil
    }

    /// `1.5` → "1.5", `2.0` → "2".
    static func format(_ x: Double) -> String {
        x == x.rounded() && x.magnitude < 1e15 ? String(Int(x)) : String(x)
    }
}

extension PoolMode: CaseIterable {
    public static var allCases: [PoolMode] { [.transaction, .session] }
}

extension AuthType: CaseIterable {
    public static var allCases: [AuthType] { [.trust, .md5, .scramSHA256] }
}
