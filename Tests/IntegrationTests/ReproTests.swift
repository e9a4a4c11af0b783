import Foundation
import Testing

/// The raw-protocol repro scripts of pgstash's transaction-mode faults (`repros/`, vendored
/// from the shared folder; `repros/README.md` lists them). Each script prints `OK` or `BUG`
/// lines ("expected | observed"); pointed at PostgreSQL itself every line is `OK` (except
/// `waiting_client_flood`, which only means something behind a pooler that cannot serve the
/// client yet). Each test starts its own pgstash in front of a throwaway database and passes
/// when the script printed at least one `OK` line and no `BUG` line.
///
/// Serialized: the scripts rely on pgstash reusing the most recently released server, and
/// several measure memory or latency, which other tests' load on a 2-core machine would blur.
@Suite(.serialized) struct ReproTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("repros").path

    /// Settings of most scripts: transaction pooling, the default cap.
    static let transaction = ["pool.mode=transaction"]

    /// Starts pgstash (`overrides`, or `config` built from the database) in front of a new
    /// database, runs `repros/<script>.py 127.0.0.1 PORT <args>` with the credentials in
    /// PGUSER/PGPASSWORD/PGDATABASE, and checks its verdict lines. `attempts` > 1 is for a
    /// script whose verdict is a timing: a BUG is tried again with a fresh proxy, and the test
    /// fails when every attempt says BUG (other suites load the machine meanwhile; a real
    /// slowdown shows in every attempt).
    func run(_ script: String, overrides: [String] = transaction,
             config: ((TestEnvironment, TestDatabase) throws -> String)? = nil,
             timeout: Double = 60, attempts: Int = 1, args: (PgStashProcess) -> [String] = { _ in [] }) throws {
        for attempt in 1...attempts {
            let sawBug = try runOnce(script, overrides: overrides, config: config, timeout: timeout,
                                     recordBugs: attempt == attempts, args: args)
            if !sawBug { return }
        }
    }

    /// One run of `run`; true when the script printed BUG (recorded only if `recordBugs`).
    private func runOnce(_ script: String, overrides: [String], config: ((TestEnvironment, TestDatabase) throws -> String)?,
                         timeout: Double, recordBugs: Bool, args: (PgStashProcess) -> [String]) throws -> Bool {
        let env = try TestEnvironment.require()
        let db = try TestDatabase(env, prefix: "repro")
        defer { db.drop() }
        let proxy: PgStashProcess
        if let config {
            proxy = try PgStashProcess(env, config: try config(env, db))
        } else {
            proxy = try startPgStash(env, db, overrides)
        }
        defer { proxy.stop() }
        let started = Date()
        let r = try runCommand(["/usr/bin/python3", "\(Self.directory)/\(script).py", "127.0.0.1", "\(proxy.port)"]
                                   + args(proxy),
                               env: ["PGUSER": "postgres", "PGPASSWORD": env.pgPassword, "PGDATABASE": db.name,
                                     "PYTHONUNBUFFERED": "1"],
                               timeout: timeout)
        let elapsed = Date().timeIntervalSince(started)
        let lines = r.stdout.split(separator: "\n")
        let oks = lines.filter { $0.hasPrefix("OK") }
        let bugs = lines.filter { $0.hasPrefix("BUG") }
        let report = """
            \(script).py exited \(r.status) after \(String(format: "%.1f", elapsed)) s (timeout \(Int(timeout)) s)
            stdout:
            \(r.stdout.suffix(3000))
            stderr:
            \(r.stderr.suffix(2000))
            pgstash log:
            \(logTail(proxy, lines: 20))
            """
        if !bugs.isEmpty {
            if recordBugs { Issue.record("BUG line(s):\n\(bugs.joined(separator: "\n"))\n\(report)") }
            return true
        }
        #expect(!oks.isEmpty, "no OK line (the script did not reach its verdict)\n\(report)")
        return false
    }

    static func pid(_ p: PgStashProcess) -> String { "\(p.process.processIdentifier)" }

    // MARK: - Protocol and session-state faults

    @Test("Flush without Sync keeps the server: B neither sees nor aborts A's open transaction")
    func flushReleaseMidPipeline() throws { try run("flush_release_midpipeline") }

    @Test("the unnamed statement is per client: B's Bind of \"\" gets 26000")
    func unnamedStatementCrossover() throws { try run("unnamed_stmt_crossover") }

    @Test("COPY FROM STDIN over the extended protocol (two Syncs, one ReadyForQuery)")
    func copyExtendedSync() throws { try run("copy_extended_sync") }

    @Test("SET ROLE survives RESET ALL, follows its client, never reaches the next one")
    func roleLeakResetAll() throws { try run("role_leak_reset_all") }

    @Test("SET SESSION CHARACTERISTICS follows its client and does not leak")
    func sessionCharacteristicsLeak() throws { try run("session_characteristics_leak") }

    @Test("SET tracking: BEGIN in the batch, aborted implicit transaction, pipelined, trailing comment")
    func setTracking() throws { try run("set_tracking") }

    @Test("CREATE TABLE pg_temp.x and LISTEN inside DO do not leak to the next client")
    func gateBypass() throws { try run("gate_bypass") }

    @Test("a refused Parse aborts the transaction; the next batch is answered")
    func refusedParse() throws {
        try run("refused_parse", overrides: Self.transaction + ["pool.pin_on_session_state=false"])
    }

    @Test("DEALLOCATE in a pipeline: no injected Sync commits work a later error rolls back")
    func deallocateInjectedSync() throws { try run("deallocate_injected_sync") }

    @Test("DEALLOCATE of a pgstash_N name does not break another client's statement")
    func deallocateSharedName() throws { try run("deallocate_shared_name") }

    @Test("PQprepare of invalid SQL fails every time")
    func knownPrepareInvalid() throws { try run("known_prepare_invalid") }

    @Test("a statement followed at once by Terminate completes")
    func terminateAfterInsert() throws { try run("terminate_after_insert") }

    @Test("a named Parse reusing a live name gets 42P05")
    func parseReuse42P05() throws { try run("parse_reuse_42P05") }

    @Test("a COPY that fails while the client is paused by back-pressure does not hang it")
    func copyErrorHang() throws { try run("copy_error_hang", timeout: 90, args: { _ in ["64"] }) }

    @Test("a late CancelRequest never lands on the next client's query (max_upstream = 1)")
    func cancelRace() throws {
        try run("cancel_race", overrides: Self.transaction + ["pool.max_upstream=1"], args: { _ in ["8"] })
    }

    // MARK: - Memory and CPU bounds

    /// 128 MB of Syncs without reading a byte: the verdict wants the peer to stop reading
    /// below 64 MB.
    @Test("a client sending Syncs and never reading is stopped by back-pressure")
    func syncFloodNoRead() throws {
        try run("sync_flood_noread", args: { p in [Self.pid(p), "128"] })
    }

    /// 100,000 rows of ~1 kB (≈ 95 MB relayed, more than the 64 MB the verdict allows) to a
    /// slow reader. PostgreSQL itself relays them in ~1 s; the current debug build takes about
    /// 100 s (and stalls outright with a fast reader), hence the long timeout.
    @Test("relaying a big result to a slow reader keeps RSS bounded")
    func bigResultRSS() throws {
        try run("big_result_rss", timeout: 150, args: { p in [Self.pid(p), "100000"] })
    }

    /// Both servers (max_upstream = 2) held in open transactions; the third client floods
    /// 1 MB CopyData frames while it waits: pgstash must stop reading it below 64 MB.
    @Test("a client waiting for a server is not read without limit")
    func waitingClientFlood() throws {
        try run("waiting_client_flood", overrides: Self.transaction + ["pool.max_upstream=2", "pool.acquire_timeout=20"],
                timeout: 60, args: { p in ["2", "128", Self.pid(p)] })
    }

    /// Two floods of 20,000 distinct statement texts (~9 MB of text each): the second may
    /// grow RSS by less than 30 % of the first (or 4 MB).
    @Test("the statement-name map is bounded")
    func statementNamesGrowth() throws {
        try run("statement_names_growth", timeout: 90, args: { p in ["20000", Self.pid(p)] })
    }

    @Test("unknown users cost no more than known ones at login (4 threads, 4 s)")
    func unauthScramCPU() throws { try run("unauth_scram_cpu", attempts: 3, args: { _ in ["4", "4"] }) }

    // MARK: - Pools

    /// Session mode, idle servers reaped after 1 s; a short acquire_timeout so that an
    /// exhausted pool answers with an error instead of a 30 s wait.
    @Test("session mode: a client leaving while its server is paused leaks no pool slot")
    func sessionPausedLeak() throws {
        try run("session_paused_leak",
                overrides: ["pool.mode=session", "pool.idle_timeout=1", "pool.min_idle=0", "pool.acquire_timeout=3"],
                timeout: 90, args: { _ in ["1", "0"] })
    }

    /// `[pool.users.reporting] mode = "session"` with both users mapped to one upstream login:
    /// `reporting` must get session mode although `postgres` created the pool.
    @Test("a [pool.users.NAME] override applies to that user, whoever created the pool")
    func poolUserOverride() throws {
        let env = try TestEnvironment.require()
        // The role exists in PostgreSQL too, so that the script gives the same answer there.
        try DirectConnection(env).query("""
            DO $$ BEGIN
                CREATE ROLE reporting LOGIN PASSWORD 'reporting';
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$
            """)
        try run("pool_user_override", config: { env, db in
            let dir = "\(env.tmp)/repro-users-\(db.name)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "\"postgres\" \"\(env.pgPassword)\"\n\"reporting\" \"reporting\"\n"
                .write(toFile: "\(dir)/users.txt", atomically: true, encoding: .utf8)
            let conf = """
                [listen]
                host = "127.0.0.1"
                [pool]
                mode = "transaction"
                [pool.users.reporting]
                mode = "session"
                [databases.\(db.name)]
                host = "127.0.0.1"
                port = \(env.pgPort)
                user = "postgres"
                password = "\(env.pgPassword)"
                [auth]
                type = "scram-sha-256"
                auth_file = "users.txt"
                """
            try conf.write(toFile: "\(dir)/proxy.conf", atomically: true, encoding: .utf8)
            return "\(dir)/proxy.conf"
        }, args: { _ in ["reporting", "reporting"] })
    }
}
