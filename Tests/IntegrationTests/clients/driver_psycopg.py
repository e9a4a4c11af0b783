#!/usr/bin/python3
"""psycopg 3 in its everyday modes, two clients A and B; checks that B observes nothing of A
(rows, prepared statements, settings, roles, errors, transaction state) and A gets its own
results. Run it against PostgreSQL directly (the expected answers) and through pgstash.

 - pipeline mode with fetchone() inside `with conn.pipeline()` (psycopg sends
   PQsendFlushRequest, not a Sync, to get the row), for prepare_threshold 0, 5 (default) and
   None, with autocommit on (implicit transaction until the pipeline's Sync) and off (BEGIN);
 - a server-side (named) cursor read in batches inside a transaction while B runs queries
   and its own cursor of the same name;
 - settings, role and prepared statements of A are not visible to B.

Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
usage: driver_psycopg.py DSN TAG      (TAG makes table names unique per run)
"""
import json
import sys
import time
import traceback

import psycopg

DSN, TAG = sys.argv[1], sys.argv[2]
checks = []


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:400]})


def connect(**kw):
    return psycopg.connect(DSN, connect_timeout=10, **kw)


def guarded(name, fn):
    try:
        fn()
    except Exception as e:  # an exception is a failed check, not a crash of the script
        check(name, False, "%s: %s | %s" % (type(e).__name__, e, traceback.format_exc(limit=3).replace("\n", " ")))


T = "drv_psycopg_%s" % TAG

with connect(autocommit=True) as s:
    s.execute("DROP TABLE IF EXISTS %s" % T)
    s.execute("CREATE TABLE %s (v int, who text)" % T)
    s.execute("DO $$ BEGIN CREATE ROLE drv_psycopg_role NOLOGIN; "
              "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")


def pipeline_case(threshold, autocommit, base):
    label = "pipeline fetchone prepare_threshold=%s autocommit=%s" % (threshold, autocommit)
    a = connect(autocommit=autocommit, prepare_threshold=threshold)
    b = connect(autocommit=True, prepare_threshold=threshold)
    try:
        # Round 1: B must not see A's row before A's Sync; A's Sync (and COMMIT) make it visible.
        with a.pipeline():
            cur = a.execute("INSERT INTO %s VALUES (%%s, 'A') RETURNING pg_backend_pid()" % T, (base + 1,))
            a_pid = cur.fetchone()[0]                       # PQsendFlushRequest, no Sync
            b_pid, seen = b.execute("SELECT pg_backend_pid(), (SELECT count(*) FROM %s WHERE v = %%s)" % T,
                                    (base + 1,)).fetchone()
            check(label + ": B does not see A's uncommitted row", seen == 0 and b_pid != a_pid,
                  "A backend %s, B backend %s, B saw %s row(s)" % (a_pid, b_pid, seen))
            cur2 = a.execute("SELECT count(*) FROM %s WHERE v = %%s" % T, (base + 1,))
            own = cur2.fetchone()[0]
            check(label + ": A sees its own row in its transaction", own == 1, "A saw %s" % own)
        if not autocommit:
            a.commit()
        n = b.execute("SELECT count(*) FROM %s WHERE v = %%s" % T, (base + 1,)).fetchone()[0]
        check(label + ": A's row is committed after the pipeline", n == 1, "%s row(s)" % n)

        # Round 2: B's error does not abort A's work; A's pipeline commits it.
        with a.pipeline():
            a.execute("INSERT INTO %s VALUES (%%s, 'A') RETURNING v" % T, (base + 2,)).fetchone()
            try:
                b.execute("SELECT 1/0").fetchone()
                check(label + ": B gets its own division by zero", False, "no error")
            except psycopg.errors.DivisionByZero:
                pass
            v = a.execute("SELECT %s::int + 1" % (base,)).fetchone()[0]
            check(label + ": A's pipeline is unaffected by B's error", v == base + 1, "A got %s" % v)
        if not autocommit:
            a.commit()
        n = b.execute("SELECT count(*) FROM %s WHERE v = %%s" % T, (base + 2,)).fetchone()[0]
        check(label + ": A's second row committed despite B's error", n == 1, "%s row(s)" % n)
        st = b.info.transaction_status
        check(label + ": B is idle", st == psycopg.pq.TransactionStatus.IDLE, st)
    finally:
        a.close(); b.close()


for i, (threshold, autocommit) in enumerate([(0, True), (0, False), (5, True), (5, False),
                                              (None, True), (None, False)]):
    guarded("pipeline prepare_threshold=%s autocommit=%s" % (threshold, autocommit),
            lambda: pipeline_case(threshold, autocommit, 1000 * (i + 1)))


def prepared_names():
    # psycopg names its statements _pg3_0, _pg3_1… per connection: A's and B's names collide.
    a = connect(autocommit=True, prepare_threshold=0)
    b = connect(autocommit=True, prepare_threshold=0)
    try:
        wrong = 0
        for i in range(30):
            ra = a.execute("SELECT 'A'::text || %s::int", (i,)).fetchone()[0]
            rb = b.execute("SELECT 'B'::text || %s::int, %s::int * 2", (i, i)).fetchone()
            if ra != "A%d" % i or rb != ("B%d" % i, i * 2):
                wrong += 1
            rc = a.execute("SELECT %s::int * 3", (i,)).fetchone()[0]
            if rc != i * 3:
                wrong += 1
        check("prepare_threshold=0: colliding statement names of A and B give the right results", wrong == 0,
              "%d wrong results" % wrong)
    finally:
        a.close(); b.close()


guarded("prepared statement names", prepared_names)


def named_cursor():
    a = connect()           # not autocommit: psycopg opens a transaction (BEGIN)
    b = connect()
    try:
        got_a, got_b = [], []
        with a.transaction():
            ca = a.cursor(name="drv_cur")
            ca.itersize = 50
            ca.execute("SELECT g FROM generate_series(1, 1000) g ORDER BY g")
            while True:
                rows = ca.fetchmany(100)
                if not rows:
                    break
                got_a += [r[0] for r in rows]
                # B meanwhile: plain queries and a cursor of the same name of its own.
                with b.transaction():
                    n = b.execute("SELECT count(*) FROM pg_cursors WHERE name = 'drv_cur'").fetchone()[0]
                    if n != 0:
                        check("named cursor: B does not see A's cursor", False, "B saw %d cursor(s) named drv_cur" % n)
                    cb = b.cursor(name="drv_cur")
                    cb.execute("SELECT -g FROM generate_series(1, 3) g ORDER BY g DESC")
                    got_b.append([r[0] for r in cb.fetchall()])
                    cb.close()
            ca.close()
        check("named cursor: A reads 1..1000 in batches while B runs queries", got_a == list(range(1, 1001)),
              "A got %d rows, first %s, last %s" % (len(got_a), got_a[:3], got_a[-3:]))
        check("named cursor: B's own cursor of the same name gives B's rows",
              len(got_b) == 10 and all(x == [-3, -2, -1] for x in got_b), str(got_b[:3]))
        a.commit(); b.commit()
    finally:
        a.close(); b.close()


guarded("named cursor", named_cursor)


def settings_and_roles():
    a = connect(autocommit=True)
    b = connect(autocommit=True)
    try:
        default_to = b.execute("SHOW statement_timeout").fetchone()[0]
        a.execute("SET statement_timeout = '4321s'")
        a.execute("SET application_name = 'drv_psycopg_A'")
        a.execute("SET ROLE drv_psycopg_role")
        for i in range(5):
            with b.transaction():   # B holds a server; A must still see its own settings
                to_b, app_b, user_b = b.execute("SELECT current_setting('statement_timeout'), "
                                                "current_setting('application_name'), current_user").fetchone()
                to_a, app_a, user_a = a.execute("SELECT current_setting('statement_timeout'), "
                                                "current_setting('application_name'), current_user").fetchone()
        check("settings: B keeps its defaults", (to_b, user_b) == (default_to, "postgres") and app_b != "drv_psycopg_A",
              "B: statement_timeout=%s application_name=%s current_user=%s" % (to_b, app_b, user_b))
        check("settings: A keeps its SETs and role", (to_a, app_a, user_a) == ("4321s", "drv_psycopg_A", "drv_psycopg_role"),
              "A: statement_timeout=%s application_name=%s current_user=%s" % (to_a, app_a, user_a))
        a.execute("RESET ROLE")
        # An error of A inside its transaction: A is in error state, B is not.
        a.autocommit = False
        try:
            a.execute("SELECT 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        sa = a.info.transaction_status
        ok_b = b.execute("SELECT 42").fetchone()[0]
        check("errors: A's failed transaction does not touch B",
              sa == psycopg.pq.TransactionStatus.INERROR and ok_b == 42, "A status %s, B got %s" % (sa, ok_b))
        a.rollback()
        check("errors: A recovers after ROLLBACK", a.execute("SELECT 7").fetchone()[0] == 7)
        a.rollback()
    finally:
        a.close(); b.close()


guarded("settings and roles", settings_and_roles)

with connect(autocommit=True) as s:
    s.execute("DROP TABLE IF EXISTS %s" % T)
print(json.dumps({"checks": checks}))
