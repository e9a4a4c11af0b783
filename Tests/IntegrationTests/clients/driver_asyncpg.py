#!/usr/bin/python3
"""asyncpg in its everyday modes: a Pool used by several concurrent clients, each running
different statements with different parameter counts, with statement_cache_size=0 (the
unnamed statement is used across a Sync: Parse ""+Describe+Sync, then Bind ""+Execute+Sync)
and with the default cache (named __asyncpg_stmt_N__ statements); explicit transactions whose
rows other clients must not see before COMMIT; copy_records_to_table; session settings of one
client invisible to the others. Run it against PostgreSQL directly and through pgstash.

Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
usage: driver_asyncpg.py HOST PORT PASSWORD DB TAG
"""
import asyncio
import json
import sys
import traceback

import asyncpg

HOST, PORT, PASSWORD, DB, TAG = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
checks = []


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:400]})


def kw(cache):
    d = dict(host=HOST, port=PORT, user="postgres", password=PASSWORD, database=DB, timeout=10,
             command_timeout=20)
    if cache is not None:
        d["statement_cache_size"] = cache
    return d


# Statements of different shapes: parameter counts 0 to 4, each with its expected answer.
SHAPES = [
    (lambda i: ("SELECT 7 * 6", ()), lambda i: 42),
    (lambda i: ("SELECT $1::int + 1", (i,)), lambda i: i + 1),
    (lambda i: ("SELECT $1::text || '-' || $2::text", ("a%d" % i, "b")), lambda i: "a%d-b" % i),
    (lambda i: ("SELECT $1::int * $2::int + $3::int", (i, 3, 1)), lambda i: i * 3 + 1),
    (lambda i: ("SELECT concat_ws(',', $1::text, $2::int, $3::bigint, $4::bool)", ("x", i, 10 ** 10, True)),
     lambda i: "x,%d,10000000000,t" % i),
]


async def concurrent_statements(cache):
    label = "statement_cache_size=%s" % ("default" if cache is None else cache)
    pool = await asyncpg.create_pool(min_size=3, max_size=3, **kw(cache))
    errors, wrong, done = [], 0, 0

    async def client(k):
        nonlocal wrong, done
        for j in range(40):
            make, want = SHAPES[(k + j) % len(SHAPES)]
            sql, args = make(k * 1000 + j)
            try:
                if j % 3 == 0:
                    async with pool.acquire() as c:      # one connection, several statements
                        got = await c.fetchval(sql, *args)
                        got2 = await c.fetchval("SELECT $1::int - $2::int", k, j)
                        if got2 != k - j:
                            wrong += 1
                else:
                    got = await pool.fetchval(sql, *args)
                if got != want(k * 1000 + j):
                    wrong += 1
                done += 1
            except Exception as e:
                errors.append("%s: %s" % (type(e).__name__, e))
    await asyncio.gather(*(client(k) for k in range(8)))
    await pool.close()
    check(label + ": 8 clients, statements with 0-4 parameters, no errors", not errors,
          "%d errors, first: %s" % (len(errors), errors[:3]))
    check(label + ": right results", wrong == 0 and done == 320, "%d wrong, %d done" % (wrong, done))


async def transactions_isolated(cache):
    label = "statement_cache_size=%s" % ("default" if cache is None else cache)
    t = "drv_asyncpg_tx_%s" % TAG
    a = await asyncpg.connect(**kw(cache))
    b = await asyncpg.connect(**kw(cache))
    try:
        await a.execute("DROP TABLE IF EXISTS %s; CREATE TABLE %s (v int)" % (t, t))
        tr = a.transaction()
        await tr.start()
        await a.execute("INSERT INTO %s VALUES ($1)" % t, 1)
        seen = await b.fetchval("SELECT count(*) FROM %s" % t)
        b_tx = await b.fetchval("SELECT txid_current_if_assigned()")
        own = await a.fetchval("SELECT count(*) FROM %s" % t)
        await tr.commit()
        after = await b.fetchval("SELECT count(*) FROM %s" % t)
        check(label + ": B does not see A's uncommitted row, and sees it after COMMIT",
              (seen, own, after, b_tx) == (0, 1, 1, None),
              "B before %s, A own %s, B after %s, B's transaction id %s" % (seen, own, after, b_tx))
        await a.execute("DROP TABLE %s" % t)
    finally:
        await a.close(); await b.close()


async def copy_records():
    t = "drv_asyncpg_copy_%s" % TAG
    pool = await asyncpg.create_pool(min_size=2, max_size=2, **kw(None))
    try:
        await pool.execute("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int, name text)" % (t, t))
        records = [(i, "name-%d" % i) for i in range(5000)]

        async def copier():
            async with pool.acquire() as c:
                async with c.transaction():
                    res = await c.copy_records_to_table(t, records=records, columns=["id", "name"])
                    inside = await c.fetchval("SELECT count(*) FROM %s" % t)
                return res, inside

        async def other():
            vals = []
            for i in range(30):
                vals.append(await pool.fetchval("SELECT $1::int * 2", i))
                await asyncio.sleep(0.005)
            return vals

        b = await asyncpg.connect(**kw(None))
        (res, inside), vals = await asyncio.gather(copier(), other())
        total = await b.fetchval("SELECT count(*), sum(id) FROM %s" % t)
        row = await b.fetchrow("SELECT count(*) AS n, sum(id) AS s FROM %s" % t)
        await b.close()
        check("copy_records_to_table: 5000 rows copied", res == "COPY 5000" and inside == 5000, "%s, %s inside" % (res, inside))
        check("copy_records_to_table: the table holds exactly the records", (row["n"], row["s"]) == (5000, sum(range(5000))),
              dict(row))
        check("copy_records_to_table: another client's queries meanwhile are right", vals == [i * 2 for i in range(30)],
              vals[:5])
        await pool.execute("DROP TABLE %s" % t)
    finally:
        await pool.close()


async def settings_isolated():
    pool = await asyncpg.create_pool(min_size=2, max_size=2, **kw(None))
    b = await asyncpg.connect(**kw(None))
    try:
        default_path = await b.fetchval("SHOW search_path")
        async with pool.acquire() as a:
            await a.execute("SET search_path = drv_asyncpg_schema, public")
            await a.execute("SET work_mem = '7777kB'")
            async with b.transaction():
                b_path = await b.fetchval("SHOW search_path")
                b_mem = await b.fetchval("SHOW work_mem")
                a_path = await a.fetchval("SHOW search_path")
                a_mem = await a.fetchval("SHOW work_mem")
        check("settings: A keeps its SETs", (a_path, a_mem) == ("drv_asyncpg_schema, public", "7777kB"),
              "A: %s, %s" % (a_path, a_mem))
        check("settings: B keeps its defaults", b_path == default_path and b_mem != "7777kB", "B: %s, %s" % (b_path, b_mem))
        # Released to the pool, asyncpg resets the connection (RESET ALL, UNLISTEN *, CLOSE ALL…).
        async with pool.acquire() as a2:
            p2 = await a2.fetchval("SHOW search_path")
        check("pool release resets settings", p2 == default_path, p2)
    finally:
        await b.close()
        await pool.close()


async def main():
    for name, coro in [("concurrent statements cache=0", lambda: concurrent_statements(0)),
                       ("concurrent statements cache=default", lambda: concurrent_statements(None)),
                       ("transactions cache=0", lambda: transactions_isolated(0)),
                       ("transactions cache=default", lambda: transactions_isolated(None)),
                       ("copy_records_to_table", copy_records),
                       ("settings", settings_isolated)]:
        try:
            await asyncio.wait_for(coro(), 40)
        except Exception as e:
            check(name, False, "%s: %s | %s" % (type(e).__name__, e, traceback.format_exc(limit=3).replace("\n", " ")))
    print(json.dumps({"checks": checks}))


asyncio.run(main())
