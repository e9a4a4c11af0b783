import Foundation
import Testing

/// psql through pgstash behaves exactly as psql straight to PostgreSQL.
@Suite(.serialized) struct PsqlParityTests {
    /// Output of a psql script, with backend process ids (which differ by nature) masked.
    func runScript(_ dsn: String, _ script: String) throws -> String {
        let r = try runCommand(["psql", "-X", "-d", dsn, "-v", "ON_ERROR_STOP=0"], stdin: script, timeout: 60)
        let text = r.stdout + "\n--stderr--\n" + r.stderr
        return text.replacingOccurrences(of: #"process with PID \d+"#, with: "process with PID N", options: .regularExpression)
    }

    static let commonScript = """
        DROP TABLE IF EXISTS parity_t;
        CREATE TABLE parity_t (id int primary key, name text);
        INSERT INTO parity_t VALUES (1, 'one'), (2, 'two'); SELECT count(*) FROM parity_t; SELECT 'multi' AS a, 2 AS b;
        BEGIN;
        INSERT INTO parity_t VALUES (3, 'three');
        SELECT 1/0;
        SELECT 'after error';
        ROLLBACK;
        SELECT * FROM parity_t ORDER BY id;
        DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;
        SELECT $1::int + 1 \\bind 41 \\g
        PREPARE p(int) AS SELECT $1 * 2; EXECUTE p(21); DEALLOCATE p;
        SELECT repeat('x', 70000) = repeat('x', 70000) AS big;
        \\set VERBOSITY verbose
        SELECT * FROM no_such_table;
        DROP TABLE parity_t;
        """

    @Test func sessionModeMatchesDirect() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["pool.mode=session"])
        let script = Self.commonScript + """

            LISTEN parity_chan;
            NOTIFY parity_chan, 'payload';
            SELECT 'after notify';
            UNLISTEN parity_chan;
            """
        let direct = try runScript(env.directDSN(), script)
        let proxied = try runScript(proxy.dsn(), script)
        #expect(direct.contains("hello from plpgsql"))
        #expect(direct.contains("Asynchronous notification \"parity_chan\" with payload \"payload\""))
        #expect(direct.contains("division by zero"))
        #expect(proxied == direct)
        #expect(proxy.isRunning)
    }

    @Test func transactionModeMatchesDirect() throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["pool.mode=transaction"])
        let direct = try runScript(env.directDSN(), Self.commonScript)
        let proxied = try runScript(proxy.dsn(), Self.commonScript)
        #expect(direct.contains("current transaction is aborted"))
        #expect(proxied == direct)
    }

    /// `\copy` of 100,000 rows in and out, byte for byte.
    @Test(arguments: ["session", "transaction"])
    func copyHundredThousandRows(mode: String) throws {
        let env = try TestEnvironment.require()
        let proxy = try PgStashProcess(env, overrides: ["pool.mode=\(mode)"])
        let dir = env.tmp
        let input = "\(dir)/copy-in-\(mode).tsv", output = "\(dir)/copy-out-\(mode).tsv"
        var text = ""
        text.reserveCapacity(3_000_000)
        for i in 1...100_000 { text += "\(i)\trow number \(i) with tab\\tescape and unicode é\n" }
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let table = "copy_\(mode)"
        _ = try psql(proxy.dsn(), "DROP TABLE IF EXISTS \(table); CREATE TABLE \(table) (id int, note text)")
        let load = try runCommand(["psql", "-X", "-d", proxy.dsn(), "-c", "\\copy \(table) from '\(input)'"], timeout: 120)
        #expect(load.stdout.contains("COPY 100000"), "\(load.stderr)")
        let dump = try runCommand(["psql", "-X", "-d", proxy.dsn(), "-c", "\\copy (select * from \(table) order by id) to '\(output)'"], timeout: 120)
        #expect(dump.stdout.contains("COPY 100000"), "\(dump.stderr)")
        let back = try String(contentsOfFile: output, encoding: .utf8)
        #expect(back == text)
        let count = try psql(env.directDSN(), "SELECT count(*) FROM \(table)")
        #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100000")
        _ = try psql(env.directDSN(), "DROP TABLE \(table)")
    }
}
