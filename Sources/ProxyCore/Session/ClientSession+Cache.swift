import CachePolicy
import PostgresWire

/// What the result cache needs of a client session: the statement a cacheable batch runs,
/// the facts its key and its cacheability depend on, and the bookkeeping of a batch
/// answered from the cache (its Parse creates a statement as if a server had parsed it).
extension ClientSession {
    /// The statement a batch runs: its text and the parameter types it was parsed with.
    public struct CachedStatement: Equatable, Sendable {
        public var query: String
        public var parameterTypes: [Int32]
    }

    /// The statement `batch` executes, or nil when the session cannot answer it from the
    /// cache at all: skipping to Sync, settings being restored, a named Parse of a name in
    /// use (PostgreSQL answers 42P05), a Bind of a statement the client does not have.
    public func cacheStatement(for batch: CacheBatch) -> CachedStatement? {
        guard !skippingToSync, !awaitingReplay else { return nil }
        switch batch.shape {
        case .simple(let sql):
            return CachedStatement(query: sql, parameterTypes: [])
        case .extended(let read):
            if let p = read.parse {
                if !p.name.isEmpty, statements[p.name] != nil || session.preparedStatements[p.name] != nil { return nil }
                return CachedStatement(query: p.query, parameterTypes: p.parameterTypes)
            }
            let name = read.bind.statement
            if name.isEmpty {
                guard let u = unnamed,
                      case let .parse(_, query, types)? = try? FrontendMessage.decode(id: FrontendMessageID.parse.rawValue,
                                                                                     body: u.parse.dropFirst(5)) else { return nil }
                return CachedStatement(query: query, parameterTypes: types)
            }
            guard let st = statements[name] else { return nil }
            return CachedStatement(query: st.key.query, parameterTypes: st.key.parameterTypes)
        }
    }

    /// The text of the client's protocol-level statement `name` ("" for the unnamed one); nil
    /// when it has none (an SQL PREPAREd statement is not looked into).
    public func statementText(_ name: String) -> String? {
        if name.isEmpty {
            guard let u = unnamed,
                  case let .parse(_, query, _)? = try? FrontendMessage.decode(id: FrontendMessageID.parse.rawValue,
                                                                              body: u.parse.dropFirst(5)) else { return nil }
            return query
        }
        return statements[name]?.key.query
    }

    /// What the cache policy needs to know of the session: `nil` when a setting that decides
    /// what names mean or what results look like is in a form pgstash does not follow (a
    /// `search_path` set by an expression), or when the transaction isolation is above READ
    /// COMMITTED (cache.md §1.6).
    public func cacheContext(database: String, loginUser: String) -> SessionContext? {
        var settings: [String: String] = [:]
        for name in CacheKey.resultSettings {
            guard let v = session.settings[name] else { continue }
            switch v {
            case .literal(let text): settings[name] = text
            case .sql(let text):
                let t = Self.trimmed(text)
                // A quoted string or an expression is not parsed here: never guess a path.
                if name == "search_path", t.contains(where: { $0 == "'" || $0 == "$" || $0 == "(" || $0 == "\\" }) { return nil }
                settings[name] = t
            }
        }
        for name in ["default_transaction_isolation", "transaction_isolation"] {
            if let v = session.settings[name] {
                let t = Self.settingText(v).lowercased()
                if t.contains("repeatable") || t.contains("serializable") { return nil }
            }
        }
        var role = loginUser
        if let r = session.settings["session_authorization"] { role = Self.roleName(r) }
        if let r = session.settings["role"] {
            let t = Self.roleName(r)
            if t != "none" { role = t }
        }
        return SessionContext(database: database, role: role, settings: settings,
                              hasTemporaryTables: !pins.isEmpty)
    }

    static func trimmed(_ s: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = s.firstIndex(where: { !isSpace($0) }), let last = s.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(s[first...last])
    }

    static func settingText(_ v: SettingValue) -> String {
        switch v {
        case .literal(let t): return t
        case .sql(let t):
            var s = Self.trimmed(t)
            if s.count >= 2, s.first == "'", s.last == "'" { s = String(s.dropFirst().dropLast()) }
            return s
        }
    }

    /// The role a `SET ROLE` or `SET SESSION AUTHORIZATION` names, as PostgreSQL reads it (it
    /// is what `$user` in search_path stands for): a string literal as written, a double-quoted
    /// identifier without its quotes, any other identifier folded to lower case (ASCII only,
    /// as `downcase_identifier` does in UTF-8).
    static func roleName(_ v: SettingValue) -> String {
        guard case .sql(let text) = v else { return Self.settingText(v) }
        let t = Self.trimmed(text)
        for q: Character in ["'", "\""] where t.count >= 2 && t.first == q && t.last == q {
            return String(t.dropFirst().dropLast()).replacingOccurrences(of: String([q, q]), with: String(q))
        }
        return String(String.UnicodeScalarView(t.unicodeScalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }))
    }

    /// A batch was answered from the cache: a Parse in it created the client's statement as
    /// PostgreSQL would have (the statement is prepared on a server when a later request
    /// needs it there).
    public mutating func cacheHitServed(_ batch: CacheBatch, names: inout StatementNames) {
        guard case .extended(let read) = batch.shape, let p = read.parse else { return }
        if p.name.isEmpty {
            unnamedGeneration += 1
            unnamed = (p.frame, unnamedGeneration)
            statementEffects[""] = nil
        } else {
            let key = StatementKey(query: p.query, parameterTypes: p.parameterTypes)
            statements[p.name] = ClientStatement(key: key, serverName: names.acquire(key))
            statementEffects[p.name] = nil
        }
    }
}
