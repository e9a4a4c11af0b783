/// Renders an analysis as `pgstash analyze --json` prints it: a JSON array, one object per
/// statement, keys in a fixed order. Optional statement-specific keys appear only when set.
/// For an `.error` it renders `{"error": message, "position": n}`.
public func renderJSON(_ analysis: Analysis) -> String {
    switch analysis {
    case .error(let message, let position):
        return "{\"error\":\(jsonString(message)),\"position\":\(position)}"
    case .statements(let list):
        return "[" + list.map { renderJSON($0) }.joined(separator: ",") + "]"
    }
}

/// One statement as a JSON object (the elements of `renderJSON(_: Analysis)`).
public func renderJSON(_ s: StatementAnalysis) -> String {
    var fields: [(String, String)] = [
        ("kind", jsonString(s.kind.rawValue)),
        ("text", jsonString(s.text)),
        ("tables_read", jsonArray(s.tablesRead.map(\.description))),
        ("tables_written", jsonArray(s.tablesWritten.map(\.description))),
        ("functions", jsonArray(s.functions)),
        ("volatile_functions", jsonArray(s.volatileFunctions)),
        ("is_write", String(s.isWrite)),
        ("has_locking", String(s.hasLocking)),
        ("system_catalogs", jsonArray(s.systemCatalogs.map(\.description))),
        ("temporary_tables", jsonArray(s.temporaryTables.map(\.description))),
        ("cacheable", String(s.cacheable)),
    ]
    if let reason = s.reason { fields.append(("reason", jsonString(reason))) }
    fields.append(("fingerprint", jsonString(s.fingerprint)))
    fields.append(("normalized", jsonString(s.normalized)))
    if s.kind.isTransactionControl { fields.append(("transaction_control", "true")) }
    if s.hasDataModifyingCTE { fields.append(("data_modifying_cte", "true")) }
    if s.createsTableFromQuery { fields.append(("creates_table_from_query", "true")) }
    if s.createsTemporaryTable { fields.append(("creates_temporary_table", "true")) }
    if s.usesSessionAdvisoryLock { fields.append(("session_advisory_lock", "true")) }
    if let options = s.transactionOptions { fields.append(("transaction", render(options))) }
    if let name = s.transactionName { fields.append(("transaction_name", jsonString(name))) }
    if let setting = s.setting { fields.append(("setting", render(setting))) }
    if let name = s.showName { fields.append(("show", jsonString(name))) }
    if s.kind == .listen || s.kind == .unlisten || s.kind == .notify {
        fields.append(("channel", s.channel.map(jsonString) ?? "null"))
    }
    if s.kind == .prepare || s.kind == .execute || s.kind == .deallocate {
        fields.append(("prepared_name", s.preparedName.map(jsonString) ?? "null"))
    }
    if s.kind == .declareCursor || s.kind == .fetch || s.kind == .closeCursor {
        fields.append(("cursor_name", s.cursorName.map(jsonString) ?? "null"))
    }
    if s.kind == .declareCursor { fields.append(("cursor_with_hold", String(s.cursorWithHold))) }
    if let target = s.discardTarget { fields.append(("discard", jsonString(target.rawValue))) }
    if s.kind == .explain { fields.append(("explain_analyze", String(s.explainAnalyze))) }
    if let inner = s.innerKind { fields.append(("inner_kind", jsonString(inner.rawValue))) }
    if let prepared = s.preparedStatement { fields.append(("prepared_statement", renderJSON(prepared))) }
    return "{" + fields.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",") + "}"
}

/// A human-readable rendering for `pgstash analyze` without `--json`.
public func renderText(_ analysis: Analysis) -> String {
    switch analysis {
    case .error(let message, let position):
        return "error: \(message) (at character \(position))"
    case .statements(let list):
        if list.isEmpty { return "no statements" }
        return list.enumerated().map { offset, s in
            var lines = ["statement \(offset + 1): \(s.kind.rawValue)\(s.kind == .other || s.kind == .ddl ? " (\(s.nodeType))" : "")"]
            lines.append("  text:           \(s.text)")
            if !s.tablesRead.isEmpty { lines.append("  tables read:    \(s.tablesRead.map(\.description).joined(separator: ", "))") }
            if !s.tablesWritten.isEmpty { lines.append("  tables written: \(s.tablesWritten.map(\.description).joined(separator: ", "))") }
            if !s.functions.isEmpty { lines.append("  functions:      \(s.functions.joined(separator: ", "))") }
            if !s.volatileFunctions.isEmpty { lines.append("  volatile:       \(s.volatileFunctions.joined(separator: ", "))") }
            lines.append("  cacheable:      \(s.cacheable ? "yes" : "no — \(s.reason ?? "")")")
            lines.append("  fingerprint:    \(s.fingerprint)")
            lines.append("  normalized:     \(s.normalized)")
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}

private func render(_ options: TransactionOptions) -> String {
    var fields: [String] = []
    fields.append("\"isolation_level\":" + (options.isolationLevel.map { jsonString($0.rawValue) } ?? "null"))
    fields.append("\"read_only\":" + (options.readOnly.map { String($0) } ?? "null"))
    fields.append("\"deferrable\":" + (options.deferrable.map { String($0) } ?? "null"))
    return "{" + fields.joined(separator: ",") + "}"
}

private func render(_ setting: VariableSetting) -> String {
    var fields = [
        "\"target\":\(jsonString(setting.target.rawValue))",
        "\"name\":" + (setting.name.map(jsonString) ?? "null"),
        "\"is_local\":\(setting.isLocal)",
        "\"is_reset\":\(setting.isReset)",
        "\"is_reset_all\":\(setting.isResetAll)",
        "\"value\":" + (setting.value.map(jsonString) ?? "null"),
        "\"from_current\":\(setting.isFromCurrent)",
    ]
    if let options = setting.transactionOptions { fields.append("\"transaction\":" + render(options)) }
    return "{" + fields.joined(separator: ",") + "}"
}

private func jsonArray(_ items: [String]) -> String {
    "[" + items.map(jsonString).joined(separator: ",") + "]"
}

/// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped. It
/// is also a valid TOML basic string (the same escapes), as `SHOW CACHE ADVICE` writes them.
public func jsonString(_ text: String) -> String {
    var out = "\""
    out.reserveCapacity(text.utf8.count + 2)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
