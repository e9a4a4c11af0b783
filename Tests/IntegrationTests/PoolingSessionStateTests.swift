import Foundation
import Testing

extension PoolingTests {
    /// `SET search_path` (not reported by PostgreSQL 15, so pgstash must see it in the SQL)
    /// and `SET TimeZone` (reported by ParameterStatus) follow their client to another server
    /// in transaction mode, and never leak to other clients.
    ///
    /// pool.max_upstream = 2 and three clients: A changes the setting; B and C are the other
    /// clients. Each time A must move, one of them holds, inside a transaction, the server A
    /// just used, so that A's next statement runs on the other server (checked with
    /// pg_backend_pid()). Every time B or C holds a server they check they see the default.
    @Suite struct SettingsFollowTheirClient {
        /// One setting under test: two values A sets, and how a probe reads it back.
        struct Setting: CustomStringConvertible, Sendable {
            let name: String
            let first: String
            let second: String
            /// For search_path, the probe also reads `marker`, to see which schema's
            /// table the setting really finds (`value|marker`).
            var probeExpression: String {
                name == "search_path" ? "current_setting('search_path') || '|' || (SELECT v FROM marker)" : "current_setting('\(name)')"
            }
            /// The probe's result for a value A set.
            func seen(_ value: String) -> String {
                name == "search_path" ? "\(value)|\(value.prefix(2))" : value
            }
            var description: String { name }
        }

        static let settings = [
            Setting(name: "TimeZone", first: "Asia/Tokyo", second: "Europe/Paris"),
            Setting(name: "search_path", first: "sa, public", second: "sb, public"),
        ]

        /// Runs each statement (each must succeed).
        static func run(_ c: WireClient, _ statements: [String], sourceLocation: SourceLocation = #_sourceLocation) {
            for s in statements {
                let r = c.query(s)
                #expect(r.errors.isEmpty, "\(s): \(r.errorSummary)", sourceLocation: sourceLocation)
            }
        }

        @Test("SET/RESET follow the client to its next server and never reach other clients", arguments: settings)
        func settingFollowsClient(_ setting: Setting) throws {
            let env = try TestEnvironment.require()
            let db = try TestDatabase(env, prefix: "settings")
            defer { db.drop() }
            try db.connect().query("""
                CREATE SCHEMA sa; CREATE SCHEMA sb;
                CREATE TABLE public.marker (v text); INSERT INTO public.marker VALUES ('public');
                CREATE TABLE sa.marker (v text); INSERT INTO sa.marker VALUES ('sa');
                CREATE TABLE sb.marker (v text); INSERT INTO sb.marker VALUES ('sb')
                """)
            let probe = "SELECT pg_backend_pid(), \(setting.probeExpression)"
            let defaultValue = try #require(try db.connect().value(probe.replacingOccurrences(of: "pg_backend_pid(), ", with: "")))
            let first = setting.seen(setting.first), second = setting.seen(setting.second)
            try #require(defaultValue != first && defaultValue != second)
            let proxy = try startPgStash(env, db, ["pool.mode=transaction", "pool.max_upstream=2"])
            defer { proxy.stop() }
            let a = try WireClient.connected(proxy, db)
            let others = [try WireClient.connected(proxy, db), try WireClient.connected(proxy, db)]
            let set = { (v: String) in "SET \(setting.name) = \(setting.name == "TimeZone" ? "'\(v)'" : v)" }

            func read(_ c: WireClient) -> (pid: String, value: String)? {
                let r = c.query(probe)
                guard r.errors.isEmpty, let row = r.rows.last, row.count == 2 else { return nil }
                return (row[0] ?? "", row[1] ?? "NULL")
            }

            /// Makes A's next statement run on a server other than `pid`; returns the other
            /// client left holding `pid` in a transaction.
            func occupy(_ pid: String, sourceLocation: SourceLocation) -> WireClient? {
                var opened: [WireClient] = []
                var holder: WireClient?
                for o in others {
                    _ = o.query("BEGIN")
                    opened.append(o)
                    let seen = read(o)
                    #expect(seen?.value == defaultValue,
                            "another client sees \(setting.name) = \(seen?.value ?? "(error)") on server \(seen?.pid ?? "?")",
                            sourceLocation: sourceLocation)
                    if seen?.pid == pid { holder = o; break }
                }
                for o in opened where o !== holder { _ = o.query("COMMIT") }
                return holder
            }

            /// A's value after moving off the server of its last statement.
            func aElsewhere(after pid: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (pid: String, value: String) {
                let holder = try #require(occupy(pid, sourceLocation: sourceLocation),
                                          "could not make another client hold server \(pid)", sourceLocation: sourceLocation)
                defer { _ = holder.query("COMMIT") }
                let seen = try #require(read(a), "A's probe failed", sourceLocation: sourceLocation)
                #expect(seen.pid != pid, "A was not moved to another server", sourceLocation: sourceLocation)
                #expect(read(holder)?.value == defaultValue, "A's \(setting.name) leaked to another client on server \(pid)",
                        sourceLocation: sourceLocation)
                return seen
            }

            // 1. SET outside a transaction: kept.
            Self.run(a, [set(setting.first)])
            var last = try #require(read(a))
            #expect(last.value == first)
            last = try aElsewhere(after: last.pid)
            #expect(last.value == first, "SET outside a transaction was not carried to the next server")

            // 2. SET inside a transaction that is rolled back: not kept.
            Self.run(a, ["BEGIN", set(setting.second)])
            #expect(read(a)?.value == second, "inside its transaction A sees its SET")
            Self.run(a, ["ROLLBACK"])
            last = try #require(read(a))
            #expect(last.value == first, "after ROLLBACK, on the same server")
            last = try aElsewhere(after: last.pid)
            #expect(last.value == first, "a SET rolled back was carried to the next server")

            // 3. SET inside a transaction that commits: kept.
            Self.run(a, ["BEGIN", set(setting.second), "COMMIT"])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == second, "a SET committed in a transaction was not carried to the next server")

            // 4. SET LOCAL: gone at commit.
            Self.run(a, ["BEGIN", set(setting.first).replacingOccurrences(of: "SET ", with: "SET LOCAL "), "COMMIT"])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == second, "SET LOCAL outlived its transaction on the next server")

            // 5. A SET in a transaction that then fails and is rolled back: not kept.
            Self.run(a, ["BEGIN", set(setting.first)])
            #expect(!a.query("SELECT 1/0").errors.isEmpty)
            Self.run(a, ["ROLLBACK"])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == second, "a SET of a failed transaction was carried to the next server")

            // 6. Several statements in one Query message, the SET in the middle: kept.
            Self.run(a, ["SELECT 1; \(set(setting.first)); SELECT 2"])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == first, "a SET inside a multi-statement query was not carried to the next server")

            // 7. RESET: back to the default, on any server.
            Self.run(a, ["RESET \(setting.name)"])
            last = try #require(read(a))
            #expect(last.value == defaultValue)
            last = try aElsewhere(after: last.pid)
            #expect(last.value == defaultValue, "RESET was not carried to the next server")

            // 8. RESET ALL after a new SET.
            Self.run(a, [set(setting.second)])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == second)
            Self.run(a, ["RESET ALL"])
            last = try #require(read(a))
            last = try aElsewhere(after: last.pid)
            #expect(last.value == defaultValue, "RESET ALL was not carried to the next server")

            for o in others { #expect(read(o)?.value == defaultValue) }
        }
    }
}
