import Testing
@testable import SQLAnalysis

/// Functions called, and which of them are volatile or unknown.
@Suite struct FunctionTests {
    struct Calls: Sendable {
        var all: [String]
        var volatile: [String]
    }

    static let cases: [SQLCase<Calls>] = [
        .init("SELECT now(), random(), nextval('seq'), pg_advisory_lock(1), lower(name) FROM users",
              Calls(all: ["now", "random", "nextval", "pg_advisory_lock", "lower"],
                    volatile: ["now", "random", "nextval", "pg_advisory_lock"])),
        .init("SELECT CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, LOCALTIME, LOCALTIMESTAMP",
              Calls(all: ["current_timestamp", "current_date", "current_time", "localtime", "localtimestamp"],
                    volatile: ["current_timestamp", "current_date", "current_time", "localtime", "localtimestamp"])),
        .init("SELECT CURRENT_USER, SESSION_USER, USER, CURRENT_ROLE, CURRENT_SCHEMA, CURRENT_CATALOG",
              Calls(all: ["current_user", "session_user", "user", "current_role", "current_schema", "current_catalog"],
                    volatile: ["current_user", "session_user", "user", "current_role", "current_schema", "current_catalog"])),
        .init("SELECT myschema.my_func(1), \"MyFunc\"(2)", Calls(all: ["myschema.my_func", "MyFunc"], volatile: ["myschema.my_func", "MyFunc"])),
        .init("SELECT count(*) FROM t WHERE lower(a) = lower($1)", Calls(all: ["count", "lower"], volatile: [])),
        .init("SELECT EXTRACT(epoch FROM x), substring(s FROM 1 FOR 2), position('a' IN s), trim(both ' ' FROM s) FROM t",
              Calls(all: ["extract", "substring", "position", "btrim"], volatile: [])),
        .init("SELECT x AT TIME ZONE 'UTC' FROM t", Calls(all: ["timezone"], volatile: [])),
        .init("SELECT pg_catalog.lower(a) FROM t", Calls(all: ["pg_catalog.lower"], volatile: [])),
        .init("SELECT * FROM t WHERE id = (SELECT max(id) FROM u WHERE u.at < now())", Calls(all: ["max", "now"], volatile: ["now"])),
        .init("SELECT * FROM generate_series(1, 3), unnest(ARRAY[1, 2])", Calls(all: ["generate_series", "unnest"], volatile: [])),
        .init("INSERT INTO t (id, at) VALUES (nextval('s'), now())", Calls(all: ["nextval", "now"], volatile: ["nextval", "now"])),
        .init("SELECT json_agg(row_to_json(o)) FILTER (WHERE o.x > 0) FROM o", Calls(all: ["json_agg", "row_to_json"], volatile: [])),
        .init("SELECT sum(total) OVER (PARTITION BY status ORDER BY random()) FROM o", Calls(all: ["sum", "random"], volatile: ["random"])),
        .init("CALL refresh_stats(now())", Calls(all: ["refresh_stats", "now"], volatile: ["refresh_stats", "now"])),
        .init("SELECT txid_current(), pg_current_xact_id(), gen_random_uuid(), clock_timestamp()",
              Calls(all: ["txid_current", "pg_current_xact_id", "gen_random_uuid", "clock_timestamp"],
                    volatile: ["txid_current", "pg_current_xact_id", "gen_random_uuid", "clock_timestamp"])),
        .init("SELECT age(a, b), age(a) FROM t", Calls(all: ["age"], volatile: ["age"])),
    ]

    @Test(arguments: cases)
    func functions(_ c: SQLCase<Calls>) throws {
        let s = try analyzeOne(c.sql)
        #expect(s.functions == c.expected.all)
        #expect(s.volatileFunctions == c.expected.volatile)
    }

    @Test func createFunctionDefinesRatherThanCalls() throws {
        let s = try analyzeOne("CREATE FUNCTION now2() RETURNS timestamptz AS $$ SELECT now() $$ LANGUAGE sql")
        #expect(s.functions.isEmpty)
    }

    @Test func volatilityClassification() {
        #expect(FunctionVolatility.of("now", argumentCount: 0) == .volatile)
        #expect(FunctionVolatility.of("pg_catalog.random", argumentCount: 0) == .volatile)
        #expect(FunctionVolatility.of("lower", argumentCount: 1) == .safe)
        #expect(FunctionVolatility.of("public.lower", argumentCount: 1) == .unknown)
        #expect(FunctionVolatility.of("compute_bonus", argumentCount: 1) == .unknown)
        #expect(FunctionVolatility.of("pg_sleep_for", argumentCount: 1) == .volatile)
        #expect(FunctionVolatility.of("age", argumentCount: 1) == .volatile)
        #expect(FunctionVolatility.of("age", argumentCount: 2) == .safe)
    }
}
