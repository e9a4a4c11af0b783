#!/usr/bin/python3
"""asyncpg with its default statement cache (every query a named prepared statement,
__asyncpg_stmt_N__) over CONNECTIONS connections through pgstash in transaction mode,
QUERIES statements in all: the same mix as workload_psycopg.py (parameterized SELECTs whose
results are checked, INSERT/UPDATE in explicit transactions, rolled-back UPDATEs), then the
table compared through a direct connection with what the connections committed. Prints one
JSON summary line.

usage: workload_asyncpg.py PROXY_PORT DIRECT_PORT PASSWORD DB CONNECTIONS QUERIES TABLE
"""
import asyncio
import json
import sys
import time

import asyncpg

DEADLINE = 50.0


class Rollback(Exception):
    pass


async def main():
    proxy_port, direct_port, password, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    connections, total, table = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
    per_connection = total // connections
    stats = {"queries": 0, "wrong_results": 0, "transactions": 0, "rollbacks": 0}
    errors = []
    expected = {}
    start = time.monotonic()

    async def worker(w):
        mine = {}
        done = 0
        next_id = w * 100_000

        def check(got, want, what):
            if got != want:
                stats["wrong_results"] += 1
                if len(errors) < 20:
                    errors.append(f"conn {w} query {done}: {what}: got {got!r}, want {want!r}")

        conn = None
        try:
            conn = await asyncpg.connect(host="127.0.0.1", port=proxy_port, user="postgres", password=password,
                                         database=db, ssl=False, timeout=40)
            while done < per_connection and time.monotonic() - start < DEADLINE:
                step = done % 10
                if not mine and step != 0:
                    step = 6
                if per_connection - done < 3:
                    step = 0
                if step in (0, 1, 2):
                    a, b = done * 7 + w, w
                    row = await conn.fetchrow("SELECT $1::int + $2::int AS s, $3::text || '-' || $4::text AS t",
                                              a, b, "w", str(w))
                    check(tuple(row), (a + b, f"w-{w}"), "arithmetic")
                    done += 1
                elif step in (3, 4):
                    rid = sorted(mine)[done % len(mine)]
                    row = await conn.fetchrow(f"SELECT val, owner FROM {table} WHERE id = $1", rid)
                    check(tuple(row), (mine[rid], w), f"row {rid}")
                    done += 1
                elif step == 5:
                    row = await conn.fetchrow(f"SELECT count(*), coalesce(sum(val), 0) FROM {table} WHERE owner = $1", w)
                    check(tuple(row), (len(mine), sum(mine.values())), "owner totals")
                    done += 1
                elif step in (6, 7):
                    rid, val = next_id, done
                    next_id += 1
                    async with conn.transaction():
                        await conn.execute(f"INSERT INTO {table} (id, owner, val) VALUES ($1, $2, $3)", rid, w, val)
                        got = await conn.fetchval(f"SELECT val FROM {table} WHERE id = $1", rid)
                    mine[rid] = val
                    stats["transactions"] += 1
                    check(got, val, "inserted row")
                    done += 2
                elif step == 8:
                    rid = sorted(mine)[0]
                    async with conn.transaction():
                        got = await conn.fetchval(f"UPDATE {table} SET val = val + $1 WHERE id = $2 RETURNING val", 3, rid)
                    mine[rid] += 3
                    stats["transactions"] += 1
                    check(got, mine[rid], "updated row")
                    done += 1
                else:
                    rid = sorted(mine)[-1]
                    try:
                        async with conn.transaction():
                            await conn.execute(f"UPDATE {table} SET val = -1 WHERE id = $1", rid)
                            raise Rollback()
                    except Rollback:
                        pass
                    stats["rollbacks"] += 1
                    done += 1
                    got = await conn.fetchval(f"SELECT val FROM {table} WHERE id = $1", rid)
                    check(got, mine[rid], "rolled-back row")
                    done += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(f"conn {w} after {done} queries: {type(e).__name__}: {e}".strip())
        finally:
            stats["queries"] += done
            expected.update(mine)
            if conn is not None:
                await conn.close(timeout=5)

    try:
        await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(connections))), DEADLINE + 5)
    except asyncio.TimeoutError:
        errors.append("timed out")

    mismatched_rows = -1
    try:
        direct = await asyncpg.connect(host="127.0.0.1", port=direct_port, user="postgres", password=password,
                                       database=db, ssl=False, timeout=20)
        actual = {r["id"]: r["val"] for r in await direct.fetch(f"SELECT id, val FROM {table}")}
        await direct.close()
        mismatched_rows = sum(1 for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
    except Exception as e:  # noqa: BLE001
        errors.append(f"verification: {type(e).__name__}: {e}")

    print(json.dumps({
        **stats, "errors": len(errors), "rows": len(expected), "mismatched_rows": mismatched_rows,
        "first_errors": errors[:8], "seconds": round(time.monotonic() - start, 2),
    }), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
