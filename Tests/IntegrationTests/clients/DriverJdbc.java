// pgjdbc in its everyday modes, two physical connections A and B; checks that B observes
// nothing of A (rows, statements, settings, roles, errors, transaction state):
//  - setTransactionIsolation(SERIALIZABLE) on A (pgjdbc sends SET SESSION CHARACTERISTICS AS
//    TRANSACTION ISOLATION LEVEL …): B stays read committed, A stays serializable, for
//    prepareThreshold 0, 1 and 5 (1: named statements S_N from the second execution on, with
//    colliding names on A and B);
//  - a fetch-size cursor (setFetchSize inside a transaction: Execute with a row limit, portal
//    kept open) while B runs queries;
//  - addBatch/executeBatch of INSERTs, invisible to B before COMMIT.
// Compiled at test time (javac, classpath /usr/share/java/postgresql.jar). Run it against
// PostgreSQL directly (the expected answers) and through pgstash.
// Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
// usage: java -cp DIR:/usr/share/java/postgresql.jar DriverJdbc HOST PORT DB PASSWORD TAG
import java.sql.*;
import java.util.*;

public class DriverJdbc {
    static final List<String> checks = new ArrayList<>();
    static String host, db, password, tag;
    static int port;

    static String esc(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(' ');
            else b.append(c);
        }
        String r = b.toString();
        return r.length() > 400 ? r.substring(0, 400) : r;
    }

    static void check(String name, boolean ok, String detail) {
        checks.add("{\"name\": \"" + esc(name) + "\", \"ok\": " + ok + ", \"detail\": \"" + esc(detail) + "\"}");
    }

    static Connection connect(int threshold) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", password);
        p.setProperty("prepareThreshold", Integer.toString(threshold));
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        p.setProperty("socketTimeout", "30");
        p.setProperty("ApplicationName", "drv_jdbc");
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + db, p);
    }

    static String one(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getString(1);
        }
    }

    static String onePrepared(Connection c, String sql, int arg) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            s.setInt(1, arg);
            try (ResultSet r = s.executeQuery()) { r.next(); return r.getString(1); }
        }
    }

    interface Case { void run() throws Exception; }

    static void guarded(String name, Case c) {
        try { c.run(); } catch (Throwable e) { check(name, false, e.toString()); }
    }

    static void isolationLevel(int threshold) throws Exception {
        String label = "prepareThreshold=" + threshold;
        try (Connection a = connect(threshold); Connection b = connect(threshold)) {
            a.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            // Prepared statements with the same pgjdbc names (S_1, S_2…) and different texts.
            int wrong = 0;
            for (int i = 0; i < 8; i++) {
                if (!onePrepared(a, "SELECT 'A' || ?::int", i).equals("A" + i)) wrong++;
                if (!onePrepared(b, "SELECT ?::int * 10", i).equals(Integer.toString(i * 10))) wrong++;
                if (!onePrepared(a, "SELECT current_setting('transaction_isolation') || ?::int", i).equals("serializable" + i)) wrong++;
            }
            check(label + ": A's and B's prepared statements give their own results", wrong == 0, wrong + " wrong");
            b.setAutoCommit(false);   // B holds a server in a transaction: A must use another one
            String isoB = one(b, "SHOW transaction_isolation");
            String defB = one(b, "SHOW default_transaction_isolation");
            String isoA = one(a, "SHOW transaction_isolation");
            String defA = one(a, "SHOW default_transaction_isolation");
            b.rollback();
            b.setAutoCommit(true);
            String isoB2 = one(b, "SHOW transaction_isolation");
            check(label + ": B stays read committed", isoB.equals("read committed") && defB.equals("read committed")
                  && isoB2.equals("read committed"), "B: " + isoB + " / default " + defB + " / later " + isoB2);
            check(label + ": A stays serializable", isoA.equals("serializable") && defA.equals("serializable")
                  && a.getTransactionIsolation() == Connection.TRANSACTION_SERIALIZABLE, "A: " + isoA + " / default " + defA);
            // A transaction of A runs at its level.
            a.setAutoCommit(false);
            String inTx = onePrepared(a, "SELECT current_setting('transaction_isolation') || ?::text", 1);
            a.commit();
            check(label + ": A's transaction is serializable", inTx.equals("serializable1"), inTx);
            a.setAutoCommit(true);
            a.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
        }
        try (Connection c = connect(threshold)) {   // a later client gets the default
            String iso = one(c, "SHOW default_transaction_isolation");
            check(label + ": a new connection afterwards is read committed", iso.equals("read committed"), iso);
        }
    }

    static void fetchSizeCursor() throws Exception {
        try (Connection a = connect(5); Connection b = connect(5)) {
            a.setAutoCommit(false);
            List<Integer> got = new ArrayList<>();
            int bWrong = 0, batches = 0;
            try (Statement s = a.createStatement()) {
                s.setFetchSize(50);
                try (ResultSet r = s.executeQuery("SELECT g FROM generate_series(1, 1000) g ORDER BY g")) {
                    while (r.next()) {
                        got.add(r.getInt(1));
                        if (got.size() % 50 == 1) {        // B runs queries between A's fetches
                            batches++;
                            if (!onePrepared(b, "SELECT ?::int + 1", got.size()).equals(Integer.toString(got.size() + 1))) bWrong++;
                            if (!one(b, "SELECT count(*) FROM pg_cursors WHERE name <> ''").equals("0")) bWrong++;
                        }
                    }
                }
            }
            a.commit();
            boolean inOrder = got.size() == 1000;
            for (int i = 0; inOrder && i < 1000; i++) inOrder = got.get(i) == i + 1;
            check("fetch size 50 in a transaction: A reads 1..1000", inOrder, got.size() + " rows");
            check("fetch size: B's queries between A's fetches are right and see no cursor of A", bWrong == 0 && batches == 20,
                  bWrong + " wrong in " + batches + " rounds");
        }
    }

    static void batch() throws Exception {
        String t = "drv_jdbc_batch_" + tag;
        try (Connection a = connect(5); Connection b = connect(5)) {
            try (Statement s = a.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + t);
                s.execute("CREATE TABLE " + t + " (id int PRIMARY KEY, who text)");
            }
            a.setAutoCommit(false);
            try (PreparedStatement ps = a.prepareStatement("INSERT INTO " + t + " VALUES (?, 'A')")) {
                for (int i = 0; i < 200; i++) { ps.setInt(1, i); ps.addBatch(); }
                int[] counts = ps.executeBatch();
                check("batch: 200 INSERTs, 200 update counts", counts.length == 200
                      && Arrays.stream(counts).allMatch(n -> n == 1 || n == Statement.SUCCESS_NO_INFO), counts.length + " counts");
            }
            String seenB = one(b, "SELECT count(*) FROM " + t);
            String ownA = one(a, "SELECT count(*) FROM " + t);
            check("batch: B does not see A's uncommitted rows", seenB.equals("0") && ownA.equals("200"),
                  "B saw " + seenB + ", A sees " + ownA);
            a.commit();
            check("batch: committed", one(b, "SELECT count(*) FROM " + t).equals("200"), "");
            // A failing batch in a transaction: nothing of it survives the rollback.
            try (PreparedStatement ps = a.prepareStatement("INSERT INTO " + t + " VALUES (?, 'A2')")) {
                for (int i = 1000; i < 1100; i++) { ps.setInt(1, i == 1050 ? 5 : i); ps.addBatch(); }
                ps.executeBatch();
                check("batch: a duplicate key fails the batch", false, "no error");
            } catch (BatchUpdateException e) {
                String sqlState = e.getNextException() != null ? e.getNextException().getSQLState() : e.getSQLState();
                check("batch: a duplicate key fails the batch with 23505", "23505".equals(sqlState), String.valueOf(sqlState));
            }
            String bMid = one(b, "SELECT count(*) FROM " + t + " WHERE who = 'A2'");
            a.rollback();
            String after = one(b, "SELECT count(*) FROM " + t);
            check("batch: B sees none of the failed batch; the rollback leaves 200 rows", bMid.equals("0") && after.equals("200"),
                  "B during " + bMid + ", after rollback " + after);
            a.setAutoCommit(true);
            try (Statement s = a.createStatement()) { s.execute("DROP TABLE " + t); }
        }
    }

    static void rolesAndErrors() throws Exception {
        try (Connection a = connect(5); Connection b = connect(5)) {
            try (Statement s = a.createStatement()) {
                s.execute("DO $$ BEGIN CREATE ROLE drv_jdbc_role NOLOGIN; "
                          + "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
                s.execute("SET ROLE drv_jdbc_role");
                s.execute("SET search_path = drv_jdbc_schema");
            }
            b.setAutoCommit(false);
            String userB = one(b, "SELECT current_user || ' ' || current_setting('search_path')");
            String userA = one(a, "SELECT current_user || ' ' || current_setting('search_path')");
            b.rollback();
            check("roles: B is postgres with the default search_path", userB.equals("postgres \"$user\", public"), userB);
            check("roles: A keeps its role and search_path", userA.equals("drv_jdbc_role drv_jdbc_schema"), userA);
            try (Statement s = a.createStatement()) { s.execute("RESET ROLE"); s.execute("RESET search_path"); }
            a.setAutoCommit(false);
            String errA = null;
            try { one(a, "SELECT 1/0"); } catch (SQLException e) { errA = e.getSQLState(); }
            String bAfter = one(b, "SELECT 42");
            String aAborted = null;
            try { one(a, "SELECT 1"); } catch (SQLException e) { aAborted = e.getSQLState(); }
            b.rollback();
            a.rollback();
            check("errors: A's error stays in A's transaction", "22012".equals(errA) && "25P02".equals(aAborted)
                  && bAfter.equals("42"), "A " + errA + " then " + aAborted + ", B got " + bAfter);
            check("errors: A recovers after rollback", one(a, "SELECT 7").equals("7"), "");
        }
    }

    public static void main(String[] args) throws Exception {
        host = args[0]; port = Integer.parseInt(args[1]); db = args[2]; password = args[3]; tag = args[4];
        DriverManager.setLoginTimeout(10);
        for (int th : new int[] {0, 1, 5}) guarded("isolation prepareThreshold=" + th, () -> isolationLevel(th));
        guarded("fetch size cursor", DriverJdbc::fetchSizeCursor);
        guarded("batch", DriverJdbc::batch);
        guarded("roles and errors", DriverJdbc::rolesAndErrors);
        System.out.println("{\"checks\": [" + String.join(", ", checks) + "]}");
    }
}
