import Glibc
import ProxyConfig

/// Formats one log line (with its newline) in the three `[log] format`s:
///
///     text:   pgstash info: client connected client=C3 user=app addr=127.0.0.1:50412
///     logfmt: time=2026-11-28T08:19:17.123Z level=info msg="client connected" client=C3 user=app
///     json:   {"time":"2026-11-28T08:19:17.123Z","level":"info","msg":"client connected","client":"C3"}
///
/// Field names come from pgstash's code; values (user names, SQL errors) from anywhere, so
/// every value is quoted or escaped as its format requires and a line never spans two lines.
public enum LogLine {
    public static func format(_ format: LogFormat, time: Double, level: String, message: String,
                              fields: [(String, String)]) -> String {
        var line = ""
        switch format {
        case .text:
            line = "pgstash \(level): \(singleLine(message))"
            for (k, v) in fields { line += " \(key(k))=\(logfmtValue(v))" }
        case .logfmt:
            line = "time=\(rfc3339(time)) level=\(level) msg=\(logfmtValue(message))"
            for (k, v) in fields { line += " \(key(k))=\(logfmtValue(v))" }
        case .json:
            line = "{\"time\":\"\(rfc3339(time))\",\"level\":\(jsonString(level)),\"msg\":\(jsonString(message))"
            for (k, v) in fields where !["time", "level", "msg"].contains(k) { line += ",\(jsonString(k)):\(jsonString(v))" }
            line += "}"
        }
        return line + "\n"
    }

    /// A logfmt value: bare when it is non-empty and holds no space, `=`, `"`, `\` or control
    /// character; otherwise double-quoted with `\"`, `\\`, `\n`, `\r`, `\t` and `\u00XX` escapes.
    public static func logfmtValue(_ v: String) -> String {
        let bare = !v.isEmpty && v.unicodeScalars.allSatisfy { s in
            s.value > 0x20 && s.value != 0x7F && s != "=" && s != "\"" && s != "\\"
        }
        if bare { return v }
        var out = "\""
        for s in v.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out += escapedControl(s) ?? String(s)
            }
        }
        return out + "\""
    }

    /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped;
    /// other characters as UTF-8.
    public static func jsonString(_ v: String) -> String {
        var out = "\""
        for s in v.unicodeScalars {
            switch s {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out += escapedControl(s) ?? String(s)
            }
        }
        return out + "\""
    }

    /// A field name made safe for logfmt and text: anything but letters, digits, `_`, `.`
    /// and `-` becomes `_`.
    static func key(_ k: String) -> String {
        let safe = k.unicodeScalars.map { s -> String in
            let ok = (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9") || s == "_" || s == "." || s == "-"
            return ok ? String(s) : "_"
        }.joined()
        return safe.isEmpty ? "_" : safe
    }

    /// The text format's message: line breaks become spaces.
    static func singleLine(_ m: String) -> String {
        guard m.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) else { return m }
        return String(String.UnicodeScalarView(m.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }

    private static func escapedControl(_ s: Unicode.Scalar) -> String? {
        switch s.value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00..<0x20, 0x7F:
            let hex = String(s.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: return nil
        }
    }

    /// `2026-11-28T08:19:17.123Z` (UTC, milliseconds).
    public static func rfc3339(_ epoch: Double) -> String {
        let ms = Int64((epoch * 1000).rounded())
        var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let millis = Int(ms - Int64(seconds) * 1000)
        var tm = Glibc.tm()
        gmtime_r(&seconds, &tm)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}
