/// `-c section.key=value` and `--listen HOST:PORT`, applied to the parsed document before it
/// is mapped, so they are validated exactly like the file (errors name `command line`).
enum CommandLineOverrides {
    /// Sets each `-c` option in `document`, in order (a later one wins).
    static func apply(_ options: [String], to document: inout TOMLTable) -> [ConfigError] {
        var errors: [ConfigError] = []
        for option in options {
            let label = "-c \(option)"
            let fail = { (message: String) in
                errors.append(ConfigError(file: ConfigError.commandLine, line: nil, message: "\(label): \(message)"))
            }
            guard let equals = option.firstIndex(of: "=") else {
                fail("expected section.key=value")
                continue
            }
            let keyText = String(option[..<equals])
            let raw = String(option[option.index(after: equals)...])
            guard let path = TOMLParser.parseKeyPath(keyText) else {
                fail("invalid key \"\(keyText)\"; expected section.key=value")
                continue
            }
            guard path.count >= 2 else {
                let homes = ConfigKeys.bySection.filter { $0.1.contains(path[0]) }.map { "\($0.0).\(path[0])" }
                fail("a key needs its section"
                    + (homes.isEmpty ? ", as in pool.max_upstream" : "; did you mean \(homes.joined(separator: " or "))?"))
                continue
            }
            let origin = ValueOrigin.commandLine(option: label, raw: raw)
            let parsed = TOMLParser.parseValue(raw) ?? TOMLValue(.string(raw), origin: origin)
            if let message = set(restamped(parsed, origin), at: path[...], in: &document, origin: origin) {
                fail(message)
            }
        }
        return errors
    }

    /// `--listen HOST:PORT` sets `listen.host` and `listen.port`.
    static func applyListen(_ text: String, to document: inout TOMLTable) -> [ConfigError] {
        let label = "--listen \(text)"
        guard let (host, port) = HostPort.parse(text, defaultHost: ListenConfig().host) else {
            return [ConfigError(
                file: ConfigError.commandLine, line: nil, key: "listen",
                message: "\(label): expected HOST:PORT, such as 127.0.0.1:6432 or [::1]:6432")]
        }
        var errors: [ConfigError] = []
        for (key, value) in [("host", TOMLValue.Kind.string(host)), ("port", .integer(port))] {
            let origin = ValueOrigin.commandLine(option: label, raw: "")
            if let message = set(TOMLValue(value, origin: origin), at: ["listen", key], in: &document, origin: origin) {
                errors.append(ConfigError(file: ConfigError.commandLine, line: nil, message: "\(label): \(message)"))
            }
        }
        return errors
    }

    /// Stores `value` at `path`, creating tables on the way; returns why it could not.
    static func set(
        _ value: TOMLValue, at path: ArraySlice<String>, in table: inout TOMLTable, origin: ValueOrigin,
        walked: [String] = []
    ) -> String? {
        let key = path[path.startIndex]
        let here = walked + [key]
        if path.count == 1 {
            table[key] = value
            return nil
        }
        var child: TOMLTable
        switch table[key] {
        case nil:
            child = TOMLTable()
        case let existing?:
            guard let t = existing.table else {
                let what = existing.array?.first?.table != nil ? "an array of tables" : "a \(existing.typeName)"
                return "cannot set a key inside \(TableNode.dotted(here)), which is \(what)"
            }
            child = t
        }
        if let message = set(value, at: path.dropFirst(), in: &child, origin: origin, walked: here) {
            return message
        }
        let tableOrigin = table[key]?.origin ?? origin
        table[key] = TOMLValue(.table(child), origin: tableOrigin)
        return nil
    }

    /// The value with `origin` on it and on everything inside it.
    static func restamped(_ value: TOMLValue, _ origin: ValueOrigin) -> TOMLValue {
        switch value.kind {
        case .array(let items):
            return TOMLValue(.array(items.map { restamped($0, origin) }), origin: origin)
        case .table(let t):
            var out = TOMLTable()
            for (k, v) in t.entries { out[k] = restamped(v, origin) }
            return TOMLValue(.table(out), origin: origin)
        default:
            return TOMLValue(value.kind, origin: origin)
        }
    }
}

/// `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT`.
enum HostPort {
    static func parse(_ text: String, defaultHost: String) -> (String, Int)? {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        } else {
            host = ""
            portText = Substring(text)
        }
        guard let port = Int(portText), portText.allSatisfy(\.isNumber) else { return nil }
        return (host.isEmpty ? defaultHost : host, port)
    }
}
