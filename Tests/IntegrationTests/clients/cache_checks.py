"""Result-cache checks through two pgstash instances sharing one Redis (cache.md §1.6, §5).

Usage: cache_checks.py setup DSN_DIRECT      (before pgstash starts: it reads the catalog)
       cache_checks.py DSN_A DSN_B DSN_DIRECT
Prints one JSON line {"checks": [{"name", "ok", "detail"}]}.

"Stale by design": a write made straight to PostgreSQL bypasses pgstash, so a cached entry
keeps the old value until something pgstash sees invalidates it. That makes hits observable:
a read that still shows the old value after a direct write was served from the cache, and a
read that shows the new value after a write through pgstash was not served stale.
"""
import asyncio
import json
import sys
import time

import asyncpg
import psycopg

checks = []


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)})


def conn(dsn, **kw):
    kw.setdefault("autocommit", True)
    # psycopg prepares a statement on its 5th run and then stops describing the portal,
    # which is another cache key: the checks that count on hits pin the mode.
    kw.setdefault("prepare_threshold", None)
    return psycopg.connect(dsn, **kw)


def one(c, sql, params=None):
    r = c.execute(sql, params).fetchone()
    return r[0] if r else None


def setup(dsn):
    direct = conn(dsn)
    direct.execute("DROP TABLE IF EXISTS orders CASCADE")
    direct.execute("DROP TABLE IF EXISTS customers CASCADE")
    direct.execute("DROP SCHEMA IF EXISTS other CASCADE")
    direct.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
    direct.execute("""CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers ON DELETE CASCADE,
                      status text, note text, total numeric, created timestamptz DEFAULT '2026-01-02 03:04:05+00')""")
    direct.execute("INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g")
    direct.execute("INSERT INTO orders (id, customer_id, status, note, total) "
                   "SELECT g, 1 + g % 9, 'new', 'n' || g, g FROM generate_series(1, 200) g")
    direct.execute("CREATE SCHEMA other")
    direct.execute("CREATE TABLE other.orders (id int PRIMARY KEY, status text)")
    direct.execute("INSERT INTO other.orders VALUES (1, 'other-schema')")
    direct.execute("DO $$ BEGIN CREATE ROLE cache_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    direct.execute("GRANT SELECT ON customers TO cache_reader")




if sys.argv[1] == "setup":
    setup(sys.argv[2])
    sys.exit(0)

A, B, DIRECT = sys.argv[1], sys.argv[2], sys.argv[3]
direct = conn(DIRECT)


def stale_by_design(sql, params, direct_sql, dsn=A):
    """Fills the entry through pgstash, writes straight to PostgreSQL, and says whether the
    cached (old) value is still served: then the read is a hit."""
    with conn(dsn) as c:
        before = one(c, sql, params)
        before = one(c, sql, params)
        direct.execute(direct_sql)
        after = one(c, sql, params)
    return before, after


# 1. Hits are served (simple protocol) and invalidated by a write through pgstash.
q = "SELECT status FROM orders WHERE id = 1"
before, after = stale_by_design(q, None, "UPDATE orders SET status = 'direct' WHERE id = 1")
check("simple: a repeated read is served from the cache", before == "new" and after == "new", (before, after))
with conn(A) as a:
    a.execute("UPDATE orders SET status = 'via-a' WHERE id = 1")
    check("simple: a write through pgstash is seen by the next read", one(a, q) == "via-a", one(a, q))
with conn(B) as b:
    check("simple: ... and by the next read on the second instance", one(b, q) == "via-a", one(b, q))

# 2. Extended protocol (psycopg sends Parse/Bind/Describe/Execute/Sync), prepared and not.
for i, pt in enumerate((None, 0, 2)):
    q = "SELECT status FROM orders WHERE id = %s"
    rid = 10 + i
    with conn(A, prepare_threshold=pt) as a, conn(B, prepare_threshold=pt) as b:
        v1 = [one(a, q, (rid,)) for _ in range(4)]
        direct.execute(f"UPDATE orders SET status = 'direct' WHERE id = {rid}")
        v2 = one(a, q, (rid,))
        check(f"extended (prepare_threshold={pt}): repeated reads hit", v1 == ["new"] * 4 and v2 == "new", (v1, v2))
        a.execute("UPDATE orders SET status = %s WHERE id = %s", (f"e{pt}", rid))
        va, vb = one(a, q, (rid,)), one(b, q, (rid,))
        check(f"extended (prepare_threshold={pt}): a write is seen on both instances", va == vb == f"e{pt}", (va, vb))
        other = one(a, q, (rid + 100,))
        check(f"extended (prepare_threshold={pt}): parameters are part of the key", other == "new", other)

# 3. Explicit transactions: COMMIT publishes, ROLLBACK publishes nothing.
q = "SELECT note FROM orders WHERE id = 20"
with conn(A) as a:
    one(a, q); one(a, q)
    with a.transaction():
        a.execute("UPDATE orders SET note = 'committed' WHERE id = 20")
        inside = one(a, q)
    check("transaction: a read after the transaction's own write sees it", inside == "committed", inside)
    check("transaction: COMMIT publishes the write", one(a, q) == "committed", one(a, q))
    direct.execute("UPDATE orders SET note = 'direct' WHERE id = 20")
    still = one(a, q)
    a.execute("BEGIN")
    a.execute("UPDATE orders SET note = 'rolled-back' WHERE id = 20")
    a.execute("ROLLBACK")
    after = one(a, q)
    check("transaction: ROLLBACK publishes nothing (the entry stays)", still == "committed" and after == "committed",
          (still, after))
    a.execute("BEGIN")
    a.execute("UPDATE orders SET note = 'chained' WHERE id = 20")
    a.execute("COMMIT AND CHAIN")
    a.execute("COMMIT")
    check("transaction: COMMIT AND CHAIN publishes", one(a, q) == "chained", one(a, q))
    # An error in an implicit transaction rolls everything back: nothing to publish, and
    # nothing wrong served either.
    try:
        a.execute("UPDATE orders SET note = 'never' WHERE id = 20; SELECT 1/0")
    except psycopg.errors.DivisionByZero:
        pass
    check("implicit transaction with an error: the rolled-back write is not seen", one(a, q) == "chained", one(a, q))
    a.execute("UPDATE orders SET note = 'multi' WHERE id = 20; SELECT 1")
    check("multi-statement query: its write is published", one(a, q) == "multi", one(a, q))

# 4. Column-level tags: an UPDATE of a column the read does not reference keeps the entry.
q = "SELECT total FROM orders WHERE id = 30"
with conn(A) as a:
    one(a, q); one(a, q)
    direct.execute("UPDATE orders SET total = 999 WHERE id = 30")
    a.execute("UPDATE orders SET note = 'other column' WHERE id = 30")
    kept = one(a, q)
    a.execute("UPDATE orders SET total = 31 WHERE id = 30")
    fresh = one(a, q)
    check("columns: an UPDATE of another column keeps the entry; of its column invalidates it",
          str(kept) == "30" and str(fresh) == "31", (kept, fresh))

# 5. INSERT and DELETE change aggregates; FK cascades invalidate the referencing table.
q = "SELECT count(*) FROM orders"
with conn(A) as a, conn(B) as b:
    n0 = one(a, q); one(a, q)
    a.execute("INSERT INTO orders (id, customer_id, status) VALUES (1000, 10, 'new')")
    n1 = one(b, q)
    a.execute("DELETE FROM customers WHERE id = 10")   # cascades to order 1000
    n2 = one(b, q)
    check("insert/delete and ON DELETE CASCADE invalidate count(*) on both instances",
          n1 == n0 + 1 and n2 == n0 == one(direct, q), (n0, n1, n2, one(direct, q)))

# 6. Keys: search_path, settings and role.
with conn(A) as a:
    p1 = one(a, "SELECT status FROM orders WHERE id = 1")
    a.execute("SET search_path = other, public")
    p2 = one(a, "SELECT status FROM orders WHERE id = 1")
    p2b = one(a, "SELECT status FROM orders WHERE id = 1")
    check("search_path: the same text reads the table the path names", p2 == p2b == "other-schema" and p1 != p2, (p1, p2))
with conn(A) as reader, conn(B) as writer:
    # The writer's search_path is a quoted string pgstash does not parse: its write must still
    # invalidate what the reader (plain path) cached of the same relation.
    reader.execute("SET search_path = other, public")
    one(reader, "SELECT status FROM orders WHERE id = 1"); one(reader, "SELECT status FROM orders WHERE id = 1")
    writer.execute("SET search_path = 'other'")
    writer.execute("UPDATE orders SET status = 'quoted-path' WHERE id = 1")
    got = one(reader, "SELECT status FROM orders WHERE id = 1")
    check("search_path pgstash does not parse: its writes still invalidate", got == "quoted-path", got)
with conn(A) as a:
    a.execute("SET TimeZone = 'UTC'")
    t1 = str(one(a, "SELECT created::text FROM orders WHERE id = 5"))
    a.execute("SET TimeZone = 'Asia/Tokyo'")
    t2 = str(one(a, "SELECT created::text FROM orders WHERE id = 5"))
    check("settings: TimeZone is part of the key", t1.endswith("+00") and t2.endswith("+09"), (t1, t2))
with conn(A) as a:
    one(a, "SELECT name FROM customers WHERE id = 3"); one(a, "SELECT status FROM orders WHERE id = 3")
    a.execute("SET ROLE cache_reader")
    ok_read = one(a, "SELECT name FROM customers WHERE id = 3")
    try:
        one(a, "SELECT status FROM orders WHERE id = 3")
        denied = False
    except psycopg.errors.InsufficientPrivilege:
        denied = True
    check("role: another role is not served an entry it may not read", ok_read == "c3" and denied, (ok_read, denied))

# 7. Reads that must reach PostgreSQL: FOR UPDATE, volatile functions, row limits.
with conn(A) as a:
    r1 = one(a, "SELECT random() < 2 FROM orders WHERE id = 1")
    v = [one(a, "SELECT now() = clock_timestamp() OR true FROM orders WHERE id = 1") for _ in range(2)]
    direct.execute("UPDATE orders SET status = 'for-update' WHERE id = 40")
    fu = [None]
    with a.transaction():
        fu = one(a, "SELECT status FROM orders WHERE id = 40 FOR UPDATE")
    check("FOR UPDATE and volatile reads go to PostgreSQL", r1 is True and fu == "for-update", (r1, fu))
with conn(A, autocommit=False) as a:
    with a.cursor(name="srv") as cur:
        cur.itersize = 7
        cur.execute("SELECT id FROM orders WHERE id <= 50 ORDER BY id")
        ids = [r[0] for r in cur]
    a.commit()
    check("server-side cursor (Execute with a row limit) returns every row", ids == list(range(1, 51)), len(ids))

# 8. psycopg pipeline mode: a write and the reads after it in one pipeline.
with conn(A) as a:
    one(a, "SELECT note FROM orders WHERE id = 60"); one(a, "SELECT note FROM orders WHERE id = 60")
    with a.pipeline():
        a.execute("UPDATE orders SET note = 'pipelined' WHERE id = 60")
        cur = a.execute("SELECT note FROM orders WHERE id = 60")
    got = cur.fetchone()[0]
    check("pipeline: a read pipelined after a write sees it", got == "pipelined", got)
    check("pipeline: the write is published", one(a, "SELECT note FROM orders WHERE id = 60") == "pipelined")


# 9. asyncpg, with and without its statement cache.
def asyncpg_args(dsn):
    kv = dict(p.split("=", 1) for p in dsn.split())
    return {"host": kv["host"], "port": int(kv["port"]), "user": kv["user"], "password": kv["password"],
            "database": kv["dbname"], "ssl": False}


async def asyncpg_checks():
    for size in (0, 100):
        ca = await asyncpg.connect(**asyncpg_args(A), statement_cache_size=size)
        cb = await asyncpg.connect(**asyncpg_args(B), statement_cache_size=size)
        q = "SELECT status FROM orders WHERE id = $1"
        rid = 70 + size // 100
        vals = [await ca.fetchval(q, rid) for _ in range(3)]
        await ca.execute("UPDATE orders SET status = $1 WHERE id = $2", f"apg{size}", rid)
        va, vb = await ca.fetchval(q, rid), await cb.fetchval(q, rid)
        rows1 = await cb.fetch("SELECT id, status FROM orders WHERE id BETWEEN $1 AND $2 ORDER BY id", 70, 75)
        rows2 = await cb.fetch("SELECT id, status FROM orders WHERE id BETWEEN $1 AND $2 ORDER BY id", 70, 75)
        check(f"asyncpg (statement_cache_size={size}): reads, a write, and the reads after it",
              vals == ["new"] * 3 and va == vb == f"apg{size}" and rows1 == rows2 and len(rows1) == 6, (vals, va, vb))
        await ca.close()
        await cb.close()

asyncio.run(asyncpg_checks())

# 10. Entries are never served after their tags change, even when Redis lost them: the
# entry's own key may go (eviction) and the tags re-seed above every old value.
print(json.dumps({"checks": checks}))
