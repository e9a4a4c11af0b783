/// Writes the Prometheus text format, version 0.0.4: `# HELP` and `# TYPE` lines, then one
/// `name{label="value"} number` line per sample. Escaping follows the format's rules
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): label values escape
/// backslash, double quote and newline; help text escapes backslash and newline.
public struct TextExposition {
    public private(set) var text = ""

    public init() { text.reserveCapacity(16 * 1024) }

    public mutating func header(name: String, help: String, type: MetricType) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type.rawValue)\n"
    }

    public mutating func sample(_ name: String, labelNames: [String] = [], values: [String] = [], value: Double) {
        line(name, labelNames, values, extra: nil, Self.format(value))
    }

    public mutating func sample(_ name: String, labelNames: [String] = [], values: [String] = [], value: UInt64) {
        line(name, labelNames, values, extra: nil, String(value))
    }

    /// A whole gauge family computed at scrape time.
    public mutating func gauge(_ name: String, help: String, labelNames: [String] = [],
                               samples: [(values: [String], value: Double)]) {
        header(name: name, help: help, type: .gauge)
        for s in samples { sample(name, labelNames: labelNames, values: s.values, value: s.value) }
    }

    /// A whole counter family computed at scrape time (the name must end in `_total`).
    public mutating func counter(_ name: String, help: String, labelNames: [String] = [],
                                 samples: [(values: [String], value: UInt64)]) {
        header(name: name, help: help, type: .counter)
        for s in samples { sample(name, labelNames: labelNames, values: s.values, value: s.value) }
    }

    /// `_bucket` lines with cumulative counts and `le`, then `_sum` and `_count`.
    public mutating func histogram(_ name: String, labelNames: [String], values: [String], _ h: Histogram) {
        let cumulative = h.cumulativeCounts
        for (i, bound) in h.bounds.enumerated() {
            line(name + "_bucket", labelNames, values, extra: ("le", Self.format(bound)), String(cumulative[i]))
        }
        line(name + "_bucket", labelNames, values, extra: ("le", "+Inf"), String(h.count))
        line(name + "_sum", labelNames, values, extra: nil, Self.format(h.sum))
        line(name + "_count", labelNames, values, extra: nil, String(h.count))
    }

    private mutating func line(_ name: String, _ labelNames: [String], _ values: [String],
                               extra: (String, String)?, _ value: String) {
        text += name
        if !labelNames.isEmpty || extra != nil {
            text += "{"
            var first = true
            for (n, v) in zip(labelNames, values) {
                if !first { text += "," }
                first = false
                text += "\(n)=\"\(Self.escapeLabelValue(v))\""
            }
            if let (n, v) = extra { text += (first ? "" : ",") + "\(n)=\"\(v)\"" }
            text += "}"
        }
        text += " \(value)\n"
    }

    // MARK: Rules of the format

    /// Integral values print without a fraction (`3`, not `3.0`); infinities and NaN as the
    /// format spells them.
    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    public static func escapeLabelValue(_ s: String) -> String {
        guard s.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return s }
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    public static func escapeHelp(_ s: String) -> String {
        s.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isValidMetricName(_ s: String) -> Bool {
        guard let first = s.utf8.first else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95 || c == 58 }
        return letter(first) && s.utf8.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }
}

extension String {
    /// Foundation-free replacement of every occurrence of `target` (a single character).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}
