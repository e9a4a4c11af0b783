@testable import ProxyCore
import Testing

@Suite("Session settings")
struct SessionSettingsTests {
    @Test func startupParametersExceptUserDatabaseAndReplication() {
        let s = SessionSettings(startupParameters: [
            ("user", "alice"), ("database", "shop"), ("replication", "false"),
            ("application_name", "psql"), ("DateStyle", "ISO, MDY"), ("client_encoding", "UTF8"),
        ])
        #expect(s.values == [
            "application_name": .literal("psql"), "datestyle": .literal("ISO, MDY"), "client_encoding": .literal("UTF8"),
        ])
        #expect(s["DATESTYLE"] == .literal("ISO, MDY"))
    }

    @Test func optionsCarrySettings() {
        let s = SessionSettings(startupParameters: [
            ("user", "alice"), ("options", "-c statement_timeout=5s -cwork_mem=64MB --lock-timeout=1s -c TimeZone=UTC"),
        ])
        #expect(s.values == [
            "statement_timeout": .literal("5s"), "work_mem": .literal("64MB"),
            "lock_timeout": .literal("1s"), "timezone": .literal("UTC"),
        ])
    }

    @Test(arguments: [
        ("-c a=b -c c=d", [("a", "b"), ("c", "d")]),
        ("--a=b", [("a", "b")]),
        ("--statement-timeout=5s", [("statement_timeout", "5s")]),
        ("-ca=b", [("a", "b")]),
        ("-c  a=b   -c c=d ", [("a", "b"), ("c", "d")]),
        (#"-c application_name=my\ app"#, [("application_name", "my app")]),
        (#"-c a=back\\slash"#, [("a", #"back\slash"#)]),
        ("-c a=x=y", [("a", "x=y")]),
        ("-c search_path=app,public", [("search_path", "app,public")]),
        ("-c a=b\t-c c=d", [("a", "b"), ("c", "d")]),     // PostgreSQL splits on any white space
        ("-c novalue", []),
        ("", []),
    ])
    func parseOptions(_ options: String, _ expected: [(String, String)]) {
        let got = SessionSettings.parseOptions(options)
        #expect(got.map(\.0) == expected.map(\.0))
        #expect(got.map(\.1) == expected.map(\.1))
    }

    // MARK: Diff

    @Test func equalSettingsNeedNoSQL() {
        let s = SessionSettings(startupParameters: [("application_name", "psql"), ("TimeZone", "UTC")])
        #expect(s.statements(from: s) == nil)
        #expect(SessionSettings().statements(from: SessionSettings()) == nil)
    }

    @Test func differingSettingsAreSetAndExtraOnesReset() {
        var wanted = SessionSettings(startupParameters: [("application_name", "app"), ("TimeZone", "UTC")])
        wanted["search_path"] = .sql("app, public")
        var applied = SessionSettings(startupParameters: [("application_name", "other"), ("TimeZone", "UTC")])
        applied["statement_timeout"] = .literal("5s")
        applied["work_mem"] = .literal("64MB")
        #expect(wanted.statements(from: applied)
                == "SELECT pg_catalog.set_config('application_name', 'app', false); SET \"search_path\" TO app, public\n; RESET \"statement_timeout\"; RESET \"work_mem\"")
    }

    @Test func fromAFreshServer() {
        var wanted = SessionSettings()
        wanted["TimeZone"] = .literal("Europe/Paris")
        #expect(wanted.statements(from: SessionSettings()) == "SELECT pg_catalog.set_config('timezone', 'Europe/Paris', false)")
        #expect(SessionSettings().statements(from: wanted) == "RESET \"timezone\"")
    }

    /// RESET returns to the session's default, which the startup packet sets (PostgreSQL:
    /// "the value the parameter would have had if no SET had been executed").
    @Test func resetReturnsToStartupValues() {
        var s = SessionSettings(startupParameters: [("application_name", "psql"), ("TimeZone", "UTC")])
        s["timezone"] = .sql("'Europe/Paris'")
        s["work_mem"] = .sql("'8MB'")
        s.reset("TIMEZONE")
        #expect(s.values == ["application_name": .literal("psql"), "timezone": .literal("UTC"), "work_mem": .sql("'8MB'")])
        s.resetAll()
        #expect(s.values == ["application_name": .literal("psql"), "timezone": .literal("UTC")])
    }

    @Test func resetAllKeepsRoleAndSessionAuthorization() {
        var s = SessionSettings()
        s["session_authorization"] = .sql("alice")
        s["role"] = .sql("reporting")
        s["work_mem"] = .sql("'8MB'")
        s.resetAll()
        #expect(s.values == ["session_authorization": .sql("alice"), "role": .sql("reporting")])
        s.discardAll()
        #expect(s.values.isEmpty)
    }

    @Test func roleReplaysAfterSessionUserAndBeforeOthers() {
        var s = SessionSettings()
        s["a_setting"] = .sql("1")
        s["role"] = .sql("reporting")
        s["session_authorization"] = .sql("alice")
        #expect(s.statements(from: SessionSettings())
                == "SET \"session_authorization\" TO alice\n; SET \"role\" TO reporting\n; SET \"a_setting\" TO 1\n")
        #expect(SessionSettings().statements(from: s) == "RESET \"session_authorization\"; RESET \"role\"; RESET \"a_setting\"")
    }

    // MARK: Quoting

    @Test(arguments: [
        (SettingValue.literal("psql"), "'psql'"),
        (.literal("it's"), "'it''s'"),
        (.literal(""), "''"),
        (.literal("a''b"), "'a''''b'"),
        (.sql("app, \"$user\", public"), "app, \"$user\", public"),
        (.sql("DEFAULT"), "DEFAULT"),
    ])
    func literalQuoting(_ value: SettingValue, _ expected: String) {
        #expect(value.sqlText == expected)
    }

    @Test func literalWithQuoteInADiff() {
        var wanted = SessionSettings()
        wanted["application_name"] = .literal("O'Brien's app")
        #expect(wanted.statements(from: SessionSettings()) == "SELECT pg_catalog.set_config('application_name', 'O''Brien''s app', false)")
    }

    /// Every part is quoted: always valid, whatever the part is (reserved word, capitals).
    @Test(arguments: [
        ("work_mem", "\"work_mem\""),
        ("app.tenant_id", "\"app\".\"tenant_id\""),
        ("DateStyle", "\"DateStyle\""),
        ("app.TenantId", "\"app\".\"TenantId\""),
        ("my-ext.level", "\"my-ext\".\"level\""),
        ("app.1st", "\"app\".\"1st\""),
        ("app.we\"ird", "\"app\".\"we\"\"ird\""),
    ])
    func nameQuoting(_ name: String, _ expected: String) {
        #expect(SessionSettings.quoteName(name) == expected)
    }

    /// `SET app.user TO 'x'` is a syntax error in PostgreSQL (USER is a reserved keyword;
    /// checked against PostgreSQL 15); `SET app."user" TO 'x'` sets `app.user`.
    @Test(arguments: ["app.user", "app.select", "app.order"])
    func reservedWordsInNamesAreQuoted(_ name: String) {
        let part = String(name.split(separator: ".")[1])
        let quoted = SessionSettings.quoteName(name)
        #expect(quoted == "app.\"\(part)\"" || quoted == "\"app\".\"\(part)\"")
    }

    /// A list setting from a startup packet (`-c search_path=app,public`) means two schemas
    /// (PostgreSQL parses the raw value); `SET search_path TO 'app,public'` would set one schema
    /// named "app,public" (checked against PostgreSQL 15: current_setting gives "app,public"
    /// with the double quotes). The replay must keep the list.
    @Test func listSettingFromStartupKeepsItsElements() throws {
        let wanted = SessionSettings(startupParameters: [("options", "-c search_path=app,public")])
        let sql = try #require(wanted.statements(from: SessionSettings()))
        #expect(sql != "SET search_path TO 'app,public'")
    }

    // MARK: Equality (compared on every lease: interned values compare by reference)

    @Test func settingsReachedByDifferentPathsAreEqual() {
        let a = SessionSettings(startupParameters: [("application_name", "pgbench"), ("DateStyle", "ISO")])
        var b = SessionSettings()
        b["datestyle"] = .literal("ISO")
        b["application_name"] = .literal("pgbench")
        #expect(a == b)
        var c = a
        c["search_path"] = .sql("app")
        #expect(c != a)
        c.reset("search_path")          // back to the default: absent
        #expect(c == a)
        c["application_name"] = .literal("other")
        #expect(c != a && c != b)
        c.discardAll()
        #expect(c == a)
        #expect(SessionSettings() == SessionSettings(startupParameters: [("user", "u")]))
    }

    @Test func equalityHoldsBeyondTheInternTable() {
        // More distinct value sets than the table keeps: those compare by value.
        var last = SessionSettings()
        for i in 0..<(SessionSettings.internLimit + 10) {
            last = SessionSettings()
            last["app.n"] = .literal("\(i)")
        }
        var same = SessionSettings()
        same["app.n"] = .literal("\(SessionSettings.internLimit + 9)")
        #expect(last == same)
        same["app.n"] = .literal("x")
        #expect(last != same)
    }

    @Test func clientsThatStartAlikeShareStorageSoAdoptingCopiesNothing() {
        let params = [("user", "alice"), ("application_name", "shop"), ("options", "-c work_mem=64MB")]
        let a = SessionSettings(startupParameters: params)
        let b = SessionSettings(startupParameters: params)
        // Shared while the (process-wide) intern table has room; another test fills it on
        // purpose, after which a new value set gets storage of its own.
        let interned = SessionSettings.interned.withLock { $0[a.values] != nil }
        #expect(a.isIdentical(to: b) == interned)
        #expect(a == b)
        var server = SessionSettings()
        #expect(!server.isIdentical(to: a))
        server.adopt(a)
        #expect(server.isIdentical(to: a) && server == b)
        #expect(server.isIdentical(to: b) == interned)
        // Equal values from different startups are equal, but not identical: the copy is taken.
        let c = SessionSettings(startupParameters: [("application_name", "other")])
        #expect(!c.isIdentical(to: a) && c != a)
        server.adopt(c)
        #expect(server == c && server.isIdentical(to: c))
    }

    @Test func aChangedCopyIsNoLongerIdentical() {
        let params = [("application_name", "shop")]
        var a = SessionSettings(startupParameters: params)
        let b = SessionSettings(startupParameters: params)
        a["work_mem"] = .literal("1MB")
        #expect(!a.isIdentical(to: b) && a != b)
        a["work_mem"] = nil
        #expect(a == b)     // equal again: the interned storage again, while the table has room
        let interned = SessionSettings.interned.withLock { $0[b.values] != nil }
        #expect(a.isIdentical(to: b) == interned)
        var server = b
        server.adopt(a)
        #expect(server == a && server.isIdentical(to: a))
    }
}
