import Foundation
import Glibc
import PostgresWire
import ProxyCore
import Testing

/// `[auth] auth_user` / `auth_query` against the fixture PostgreSQL: roles created with
/// `CREATE ROLE … LOGIN PASSWORD` log in through pgstash with no auth-file entry, SCRAM
/// (pass-through keys upstream) and md5 (the hash upstream); wrong passwords, unknown, dropped,
/// password-less and expired roles get 28P01.
@Suite(.serialized) struct AuthQueryTests {
    /// A pgstash whose auth file has only `postgres` (the auth_user); `[databases.app]` has
    /// no `user`, so each client logs in upstream as itself.
    static func start(_ env: TestEnvironment, ttl: String = "1s", extra: String = "",
                      overrides: [String] = []) throws -> PgStashProcess {
        let config = try AuthHardeningTests.writeConfig(
            env, upstreamUser: nil, users: ["postgres": env.pgPassword],
            extra: "auth_user = \"postgres\"\nauth_cache_ttl = \"\(ttl)\"\n\(extra)")
        return try PgStashProcess(env, overrides: overrides, config: config)
    }

    /// A role name no other test run uses (the fixture PostgreSQL outlives a test).
    static func roleName(_ prefix: String) -> String { "\(prefix)_\(UInt32.random(in: 0...UInt32.max))" }

    /// Runs `sql` as the fixture's superuser, failing the test when it fails.
    static func admin(_ env: TestEnvironment, _ sql: String) throws {
        let r = try psql(env.directDSN(), sql, args: ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
        if r.status != 0 { throw TestFailure("\(sql): \(r.stderr)") }
    }

    /// Lets `role` log in to the fixture with md5 (its pg_hba asks scram-sha-256 of everyone).
    static func allowMD5(_ env: TestEnvironment, role: String) throws {
        let hba = try psql(env.directDSN(), "SHOW hba_file").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let old = try String(contentsOfFile: hba, encoding: .utf8)
        try "host all \(role) 127.0.0.1/32 md5\n\(old)".write(toFile: hba, atomically: true, encoding: .utf8)
        try admin(env, "SELECT pg_reload_conf()")
        usleep(200_000)
    }

    /// `SELECT current_user` through pgstash as `user`, or the login's error.
    static func currentUser(_ proxy: PgStashProcess, user: String, password: String) -> Result<String, Refusal> {
        guard let c = try? WireClient(port: proxy.port) else { return .failure(Refusal(ErrorFields(severity: "FATAL", sqlState: "08006", message: "connect"))) }
        switch c.login(user: user, password: password, database: "app") {
        case .error(let f): return .failure(Refusal(f))
        case .closed: return .failure(Refusal(ErrorFields(severity: "FATAL", sqlState: "08006", message: "closed")))
        case .ready:
            for m in c.query("SELECT current_user") {
                if case .dataRow(let cols) = m, let v = cols.first ?? nil { return .success(String(decoding: v, as: UTF8.self)) }
                if case .errorResponse(let f) = m { return .failure(Refusal(f)) }
            }
            return .failure(Refusal(ErrorFields(severity: "ERROR", sqlState: "XX000", message: "no row")))
        }
    }

    static func sqlState(_ r: Result<String, Refusal>) -> String? {
        if case .failure(let f) = r { return f.fields.sqlState }
        return nil
    }

    @Test func scramRoleLogsInWithoutAuthFileEntry() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_scram")
        try Self.admin(env, "SET password_encryption = 'scram-sha-256'; CREATE ROLE \(role) LOGIN PASSWORD 'scram-pw'")
        let proxy = try Self.start(env)
        defer { proxy.stop() }

        #expect(try Self.currentUser(proxy, user: role, password: "scram-pw").get() == role)
        // A real client too (libpq's SCRAM), in a second login that reuses the pool's server.
        let r = try psql(proxy.dsn(user: role, password: "scram-pw", db: "app"), "SELECT current_user")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == role, "\(r.stderr)")

        let wrong = Self.currentUser(proxy, user: role, password: "nope")
        let unknown = Self.currentUser(proxy, user: Self.roleName("aq_nobody"), password: "nope")
        #expect(Self.sqlState(wrong) == "28P01")
        #expect(Self.sqlState(unknown) == "28P01")
        if case .failure(let w) = wrong, case .failure(let u) = unknown {
            #expect(u.fields.message?.hasPrefix("password authentication failed for user") == true)
            #expect(w.fields["H"] == u.fields["H"])
        }
        // The unknown name runs the mock exchange: a salt of the same form, stable per name.
        let nobody = Self.roleName("aq_nobody")
        let mockSalt = try #require(try AuthHardeningTests.scramSalt(proxy.port, user: nobody))
        #expect(try AuthHardeningTests.scramSalt(proxy.port, user: nobody) == mockSalt)
        #expect(try AuthHardeningTests.scramSalt(proxy.port, user: role)?.count == mockSalt.count)
    }

    @Test func md5RoleLogsInWithItsHash() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_md5")
        try Self.allowMD5(env, role: role)
        try Self.admin(env, "SET password_encryption = 'md5'; CREATE ROLE \(role) LOGIN PASSWORD 'md5-pw'")
        let proxy = try Self.start(env)
        defer { proxy.stop() }

        #expect(try Self.currentUser(proxy, user: role, password: "md5-pw").get() == role)
        let r = try psql(proxy.dsn(user: role, password: "md5-pw", db: "app"), "SELECT current_user")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == role, "\(r.stderr)")
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "wrong")) == "28P01")
    }

    @Test func droppedRoleIsRefusedAfterTheTTL() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_drop")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        let proxy = try Self.start(env, ttl: "1s")
        defer { proxy.stop() }

        #expect(try Self.currentUser(proxy, user: role, password: "pw").get() == role)
        try Self.admin(env, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
        try Self.admin(env, "DROP ROLE \(role)")
        usleep(1_500_000)
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "pw")) == "28P01")
    }

    /// ALTER ROLE … PASSWORD: after the TTL the new password logs in and the old one is
    /// refused, and new upstream connections of the user's pool log in with the new key.
    @Test func changedPasswordIsSeenAfterTheTTL() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_change")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'old'")
        let proxy = try Self.start(env, ttl: "1s")
        defer { proxy.stop() }
        #expect(try Self.currentUser(proxy, user: role, password: "old").get() == role)
        try Self.admin(env, "ALTER ROLE \(role) PASSWORD 'new'")
        usleep(1_200_000)
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "old")) == "28P01")
        // The pool's server logged in with the old key: make it log in again.
        try Self.admin(env, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(role)'")
        usleep(100_000)
        #expect(try Self.currentUser(proxy, user: role, password: "new").get() == role)
    }

    /// A reload empties the cache: an auth_query that now finds nobody refuses a user at once,
    /// however long its answer would still have been cached; without auth_user, looked-up
    /// users are refused and auth-file users go on.
    @Test func reloadEmptiesTheCache() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_reload")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        let config = try AuthHardeningTests.writeConfig(
            env, upstreamUser: nil, users: ["postgres": env.pgPassword],
            extra: "auth_user = \"postgres\"\nauth_cache_ttl = \"1h\"")
        let proxy = try PgStashProcess(env, config: config)
        defer { proxy.stop() }
        #expect(try Self.currentUser(proxy, user: role, password: "pw").get() == role)
        let text = try String(contentsOfFile: config, encoding: .utf8)
        func reload(_ keys: String) throws {
            try text.replacingOccurrences(of: "auth_user = \"postgres\"\nauth_cache_ttl = \"1h\"", with: keys)
                .write(toFile: config, atomically: true, encoding: .utf8)
            proxy.signal(SIGHUP)
            usleep(500_000)
        }
        try reload("auth_user = \"postgres\"\nauth_cache_ttl = \"1h\"\nauth_query = \"SELECT usename, passwd FROM pg_shadow WHERE false AND usename = $1\"")
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "pw")) == "28P01")
        try reload("")
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "pw")) == "28P01")
        #expect(try Self.currentUser(proxy, user: "postgres", password: env.pgPassword).get() == "postgres")
    }

    @Test func rolesWithoutUsablePasswordsAreRefused() throws {
        let env = try TestEnvironment.require()
        let expired = Self.roleName("aq_expired"), none = Self.roleName("aq_nopw"), later = Self.roleName("aq_valid")
        try Self.admin(env, """
            CREATE ROLE \(expired) LOGIN PASSWORD 'pw' VALID UNTIL '2001-01-01';
            CREATE ROLE \(none) LOGIN;
            CREATE ROLE \(later) LOGIN PASSWORD 'pw' VALID UNTIL 'infinity';
            """)
        let proxy = try Self.start(env)
        defer { proxy.stop() }

        #expect(Self.sqlState(Self.currentUser(proxy, user: expired, password: "pw")) == "28P01")
        #expect(Self.sqlState(Self.currentUser(proxy, user: none, password: "")) == "28P01")
        #expect(try Self.currentUser(proxy, user: later, password: "pw").get() == later)
    }

    /// Eight clients of one user log in at once: all get in, and the auth_query ran once.
    /// Clients of two users, interleaved, each always run as themselves.
    @Test func concurrentLoginsShareOneLookupAndStayTheirOwnUser() throws {
        let env = try TestEnvironment.require()
        let a = Self.roleName("aq_a"), b = Self.roleName("aq_b")
        try Self.admin(env, "CREATE ROLE \(a) LOGIN PASSWORD 'pa'; CREATE ROLE \(b) LOGIN PASSWORD 'pb'")
        let metricsPort = freePort()
        let proxy = try Self.start(env, ttl: "60s", extra: "[log]\nlevel = \"debug\"",
                                   overrides: ["metrics.port=\(metricsPort)"])
        defer { proxy.stop() }

        let results = Box<[String: Int]>([:])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let (user, password) = i % 2 == 0 ? (a, "pa") : (b, "pb")
            for _ in 0..<3 {
                let got = (try? Self.currentUser(proxy, user: user, password: password).get()) ?? "failed"
                results.update { $0[got == user ? "ok" : "\(user) got \(got)", default: 0] += 1 }
            }
        }
        #expect(results.value == ["ok": 48])
        let lookups = proxy.log.components(separatedBy: "\n").filter { $0.contains("auth_query lookup of") }
        #expect(lookups.filter { $0.contains("app/\(a)") }.count == 1, "\(lookups)")
        #expect(lookups.filter { $0.contains("app/\(b)") }.count == 1, "\(lookups)")
        let metrics = try scrape(metricsPort)
        #expect(metrics.value("pgstash_auth_query_lookups_total", ["outcome": "found"]) == 2)
        #expect(metrics.value("pgstash_auth_query_duration_seconds_count") == 2)
    }

    /// A lookup runs off the event loop: while auth_query sleeps 2 s, a user of the auth file
    /// logs in and queries at once.
    @Test func aSlowLookupStallsNobodyElse() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_slow")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        let proxy = try Self.start(env, extra: "auth_query = \"SELECT usename, passwd FROM pg_shadow, pg_sleep(2) WHERE usename = $1\"")
        defer { proxy.stop() }

        let slow = Box<Result<String, Refusal>?>(nil)
        let started = Date()
        let t = Thread { slow.update { $0 = Self.currentUser(proxy, user: role, password: "pw") } }
        t.start()
        usleep(300_000)
        let before = Date()
        #expect(try Self.currentUser(proxy, user: "postgres", password: env.pgPassword).get() == "postgres")
        let other = Date().timeIntervalSince(before)
        #expect(other < 1, "a login took \(other) s while a lookup ran")
        while slow.value == nil && Date().timeIntervalSince(started) < 10 { usleep(20_000) }
        #expect(try slow.value?.get() == role)
        #expect(Date().timeIntervalSince(started) >= 2)
    }

    /// `[databases.app] user` forces the upstream login: a looked-up client runs as that user,
    /// and auth_user's password comes from the database entry.
    @Test func forcedUpstreamUserAndPasswordFromTheDatabaseEntry() throws {
        let env = try TestEnvironment.require()
        let role = Self.roleName("aq_forced")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        // auth_user (postgres) is not in the auth file: its password is the database entry's.
        let config = try AuthHardeningTests.writeConfig(env, upstreamUser: "postgres", users: ["someone": "x"],
                                                        extra: "auth_user = \"postgres\"")
        let proxy = try PgStashProcess(env, config: config)
        defer { proxy.stop() }
        #expect(try Self.currentUser(proxy, user: role, password: "pw").get() == "postgres")
        #expect(Self.sqlState(Self.currentUser(proxy, user: role, password: "bad")) == "28P01")
    }

    /// Lookups reuse auth_user's connection: five users looked up one after the other open
    /// one connection; a connection PostgreSQL terminated meanwhile is replaced, unnoticed.
    @Test func lookupsReuseOneConnection() throws {
        let env = try TestEnvironment.require()
        let roles = (0..<6).map { _ in Self.roleName("aq_reuse") }
        try Self.admin(env, roles.map { "CREATE ROLE \($0) LOGIN PASSWORD 'pw';" }.joined())
        let metricsPort = freePort()
        let proxy = try Self.start(env, overrides: ["metrics.port=\(metricsPort)"])
        defer { proxy.stop() }
        for role in roles.prefix(5) {
            #expect(try Self.currentUser(proxy, user: role, password: "pw").get() == role)
        }
        #expect(try scrape(metricsPort).value("pgstash_auth_query_connections_total") == 1)
        try Self.admin(env, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgstash auth_query'")
        usleep(100_000)
        #expect(try Self.currentUser(proxy, user: roles[5], password: "pw").get() == roles[5])
        let metrics = try scrape(metricsPort)
        #expect(metrics.value("pgstash_auth_query_connections_total") == 2)
        #expect(metrics.value("pgstash_auth_query_lookups_total", ["outcome": "found"]) == 6)
    }

    /// Over TLS with SCRAM-SHA-256-PLUS (libpq's `channel_binding=require`): the ClientKey is
    /// recovered from a channel-bound proof too, and the upstream login (plain SCRAM) works.
    @Test func channelBoundClientPassesThrough() throws {
        let tls = TLSTests()
        let (env, pki) = try tls.setUp()
        let role = Self.roleName("aq_plus")
        try Self.admin(env, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'")
        let path = try tls.writeConfig(
            env, tls: tls.serverTLS(pki, mode: "require"),
            databases: "[databases.app]\nhost = \"127.0.0.1\"\nport = \(env.pgPort)\ndbname = \"postgres\"",
            auth: "type = \"scram-sha-256\"\nauth_file = \"users.txt\"\nauth_user = \"postgres\"")
        let proxy = try PgStashProcess(env, config: path)
        defer { proxy.stop() }
        let dsn = "host=127.0.0.1 port=\(proxy.port) user=\(role) dbname=app sslmode=verify-full sslrootcert=\(pki.pem("ca")) channel_binding=require"
        let r = libpqQuery("\(dsn) password=pw", "SELECT current_user")
        #expect(r.connected && r.sslInUse && r.value == role, "\(r)")
        let wrong = libpqQuery("\(dsn) password=nope")
        #expect(wrong.error.contains("password authentication failed"), "\(wrong.error)")
    }

    /// Lookups use the database entry's TLS settings: against a PostgreSQL that takes only
    /// TLS, with `sslmode = "verify-full"` and the test CA as `sslrootcert`.
    @Test func lookupsUseTheEntrysTLSSettings() throws {
        let tls = TLSTests()
        let (env, pki) = try tls.setUp()
        let pg = try TLSPostgres(env: env, pki: pki)
        defer { pg.stop() }
        let role = Self.roleName("aq_tls")
        let direct = "host=localhost port=\(pg.port) user=postgres password=secret dbname=postgres sslmode=require"
        let made = try psql(direct, "CREATE ROLE \(role) LOGIN PASSWORD 'pw'", args: ["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        #expect(made.status == 0, "\(made.stderr)")
        let path = try tls.writeConfig(
            env, tls: "client_mode = \"disable\"",
            databases: """
                [databases.app]
                host = "localhost"
                port = \(pg.port)
                dbname = "postgres"
                sslmode = "verify-full"
                sslrootcert = "\(pki.pem("ca"))"
                """,
            auth: "type = \"scram-sha-256\"\nauth_file = \"users.txt\"\nauth_user = \"postgres\"")
        let proxy = try PgStashProcess(env, config: path)
        defer { proxy.stop() }
        #expect(try Self.currentUser(proxy, user: role, password: "pw").get() == role, "\(proxy.log)")
    }

    /// The auth_user cannot log in (PostgreSQL down for pgstash's purpose): users not in the
    /// auth file are refused with 08006; users in it still log in.
    @Test func failedLookupRefusesWith08006() throws {
        let env = try TestEnvironment.require()
        let config = try AuthHardeningTests.writeConfig(
            env, upstreamUser: nil, users: ["postgres": env.pgPassword, "aq_lookup": "wrong-password"],
            extra: "auth_user = \"aq_lookup\"")
        let proxy = try PgStashProcess(env, config: config)
        defer { proxy.stop() }
        let user = Self.roleName("aq_any")
        let r = Self.currentUser(proxy, user: user, password: "x")
        #expect(Self.sqlState(r) == "08006")
        // The cause (libpq's words, with the upstream's address) is logged, not shown.
        if case .failure(let f) = r {
            #expect(f.fields.message == "pgstash could not look up the password of user \"\(user)\"")
        }
        #expect(proxy.log.contains("auth_query lookup failed"))
        #expect(try Self.currentUser(proxy, user: "postgres", password: env.pgPassword).get() == "postgres")
    }
}

/// A login's or query's ErrorResponse, as an Error.
struct Refusal: Error {
    let fields: ErrorFields
    init(_ fields: ErrorFields) { self.fields = fields }
}

/// A value several threads update under a lock.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    func update(_ f: (inout T) -> Void) { lock.lock(); f(&v); lock.unlock() }
}
