#!/usr/bin/python3
"""Session objects through psycopg 3 and asyncpg, used across several transactions as with
PostgreSQL directly: a temporary table (psycopg: also COPY into it; asyncpg: also
copy_records_to_table), a WITH HOLD cursor (psycopg: a named cursor with withhold=True;
asyncpg: DECLARE … WITH HOLD then FETCH), a session advisory lock (held across transactions:
another connection cannot take it).

With PINNED (pgstash with pool.max_upstream = 2 and pool.max_pinned = 1), also: while one
client holds such an object, a second client's temporary table is refused with 0A000 (the
pinned server is the pool's only one allowed) and a hint; once the first released it (DROP
TABLE, CLOSE, pg_advisory_unlock_all), the second one may pin.

Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
usage: pin_drivers.py HOST PORT PASSWORD DB psycopg|asyncpg direct|pinned
"""
import asyncio
import json
import sys
import traceback

HOST, PORT, PASSWORD, DB, DRIVER, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
PINNED = MODE == "pinned"
DSN = f"host={HOST} port={PORT} user=postgres password={PASSWORD} dbname={DB} sslmode=disable"
LOCK = 515151
HELD = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s::int::oid AND granted"
checks = []


def check(name, ok, detail=""):
    checks.append({"name": f"{DRIVER}: {name}", "ok": bool(ok), "detail": str(detail)[:500]})


# A second client probing whether it may pin a server now: returns (ok, sqlstate, hint).
def probe_pin():
    import psycopg
    with psycopg.connect(DSN, autocommit=True, connect_timeout=10) as c:
        try:
            c.execute("CREATE TEMP TABLE probe_pin (x int)")
            c.execute("DROP TABLE probe_pin")
            return True, None, None
        except psycopg.Error as e:
            return False, e.sqlstate, e.diag.message_hint


def expect_pinned_out(what):
    if not PINNED:
        return
    ok, state, hint = probe_pin()
    check(f"while {what} is held, another client's temporary table is refused with 0A000 and a hint",
          not ok and state == "0A000" and bool(hint), f"ok={ok} sqlstate={state} hint={hint}")


def expect_released(what):
    ok, state, hint = probe_pin()
    check(f"after {what} is released, another client may create a temporary table", ok, f"sqlstate={state} hint={hint}")


def run_psycopg():
    import psycopg
    with psycopg.connect(DSN, autocommit=True, connect_timeout=10) as a, \
            psycopg.connect(DSN, autocommit=True, connect_timeout=10) as other:
        # Temporary table over several transactions, COPY included.
        a.execute("CREATE TEMP TABLE pin_items (id int, note text)")
        for k in range(3):
            with a.transaction():
                a.execute("INSERT INTO pin_items VALUES (%s, %s)", (k, f"row {k}"))
                other.execute("SELECT 1")
        with a.cursor() as cur:
            with cur.copy("COPY pin_items FROM STDIN") as cp:
                for k in range(3, 6):
                    cp.write_row((k, f"copied {k}"))
        n = a.execute("SELECT count(*), sum(id) FROM pin_items").fetchone()
        check("temporary table kept across 5 transactions and a COPY", n == (6, 15), n)
        check("another client does not see it",
              other.execute("SELECT to_regclass('pin_items') IS NULL").fetchone()[0] is True)
        expect_pinned_out("a temporary table")
        a.execute("DROP TABLE pin_items")
        expect_released("the temporary table (DROP TABLE)")

        # WITH HOLD named cursor read across transactions.
        with a.transaction():
            cur = a.cursor("pin_hold", withhold=True)
            cur.execute("SELECT g FROM generate_series(1, 10) g")
        rows = []
        for _ in range(3):
            with a.transaction():
                rows += [r[0] for r in cur.fetchmany(3)]
        check("WITH HOLD cursor read across 3 transactions", rows == list(range(1, 10)), rows)
        expect_pinned_out("a WITH HOLD cursor")
        cur.close()
        expect_released("the WITH HOLD cursor (CLOSE)")

        # Session advisory lock over several transactions.
        a.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        taken = []
        for _ in range(3):
            with a.transaction():
                a.execute("SELECT 1")
            taken.append(other.execute(HELD, (LOCK,)).fetchone()[0])
        check("session advisory lock held across transactions (seen in pg_locks by another client)",
              taken == [1] * 3, taken)
        expect_pinned_out("a session advisory lock")
        a.execute("SELECT pg_advisory_unlock_all()")
        check("after pg_advisory_unlock_all the lock is gone", other.execute(HELD, (LOCK,)).fetchone()[0] == 0)
        expect_released("the advisory lock (pg_advisory_unlock_all)")


async def run_asyncpg():
    import asyncpg
    kw = dict(host=HOST, port=PORT, user="postgres", password=PASSWORD, database=DB, timeout=10, command_timeout=20)
    a = await asyncpg.connect(**kw)
    other = await asyncpg.connect(**kw)
    try:
        await a.execute("CREATE TEMP TABLE apg_items (id int, note text)")
        for k in range(3):
            async with a.transaction():
                await a.execute("INSERT INTO apg_items VALUES ($1, $2)", k, f"row {k}")
                await other.fetchval("SELECT 1")
        await a.copy_records_to_table("apg_items", records=[(k, f"copied {k}") for k in range(3, 6)])
        n = await a.fetchrow("SELECT count(*) AS n, sum(id) AS s FROM apg_items")
        check("temporary table kept across 4 transactions and copy_records_to_table", (n["n"], n["s"]) == (6, 15), n)
        check("another client does not see it", await other.fetchval("SELECT to_regclass('apg_items') IS NULL") is True)
        await asyncio.to_thread(expect_pinned_out, "a temporary table")
        await a.execute("DROP TABLE apg_items")
        await asyncio.to_thread(expect_released, "the temporary table (DROP TABLE)")

        await a.execute("DECLARE apg_hold CURSOR WITH HOLD FOR SELECT g FROM generate_series(1, 10) g")
        rows = []
        for _ in range(3):
            async with a.transaction():
                rows += [r[0] for r in await a.fetch("FETCH 3 FROM apg_hold")]
        check("WITH HOLD cursor read across 3 transactions", rows == list(range(1, 10)), rows)
        await asyncio.to_thread(expect_pinned_out, "a WITH HOLD cursor")
        await a.execute("CLOSE apg_hold")
        await asyncio.to_thread(expect_released, "the WITH HOLD cursor (CLOSE)")

        await a.fetchval("SELECT pg_advisory_lock($1)", LOCK)
        taken = []
        for _ in range(3):
            async with a.transaction():
                await a.fetchval("SELECT 1")
            taken.append(await other.fetchval(HELD.replace("%s", "$1"), LOCK))
        check("session advisory lock held across transactions (seen in pg_locks by another client)",
              taken == [1] * 3, taken)
        await asyncio.to_thread(expect_pinned_out, "a session advisory lock")
        await a.fetchval("SELECT pg_advisory_unlock_all()")
        check("after pg_advisory_unlock_all the lock is gone", await other.fetchval(HELD.replace("%s", "$1"), LOCK) == 0)
        await asyncio.to_thread(expect_released, "the advisory lock (pg_advisory_unlock_all)")
    finally:
        await a.close()
        await other.close()


try:
    if DRIVER == "psycopg":
        run_psycopg()
    else:
        asyncio.run(asyncio.wait_for(run_asyncpg(), 50))
except Exception:  # noqa: BLE001 - a crash is one failed check
    check("script ran to the end", False, traceback.format_exc()[-800:])
print(json.dumps({"checks": checks}))
