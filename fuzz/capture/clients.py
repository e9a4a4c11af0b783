#!/usr/bin/python3
"""Extra psycopg 3 and asyncpg traffic for the capture: what the integration drivers do not
send (COPY in both directions, binary parameters and results, a failed COPY, a cancel, an
error inside a transaction, the fast-path function call is left to psql's large objects).

usage: clients.py HOST PORT PASSWORD
"""
import asyncio
import sys
import threading
import time

import asyncpg
import psycopg

HOST, PORT, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DSN = f"host={HOST} port={PORT} user=postgres password={PASSWORD} dbname=postgres sslmode=disable"


def psycopg_traffic():
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS fuzz_seed (id int primary key, name text, data bytea, at timestamptz)")
        conn.execute("TRUNCATE fuzz_seed")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO fuzz_seed VALUES (%s, %s, %s, now())",
                            [(i, f"name {i} é", bytes([i, 0, 255])) for i in range(20)])
            cur.execute("SELECT * FROM fuzz_seed WHERE id = %b", (3,), binary=True)
            cur.fetchall()
            cur.execute("SELECT %s::int[], %s::jsonb, %s::numeric, NULL::text", ([1, 2, None], '{"a": [1]}', "3.14"))
            cur.fetchall()
            with cur.copy("COPY fuzz_seed (id, name) FROM STDIN") as copy:
                for i in range(100, 110):
                    copy.write_row((i, f"copied {i}"))
            with cur.copy("COPY fuzz_seed TO STDOUT (FORMAT binary)") as copy:
                for _ in copy:
                    pass
            try:
                with cur.copy("COPY fuzz_seed (id) FROM STDIN") as copy:
                    copy.write_row((1,))
                    raise RuntimeError("abandon the copy")
            except (RuntimeError, psycopg.Error):
                pass
            with conn.pipeline():
                for i in range(5):
                    cur.execute("SELECT %s + 1", (i,), prepare=True)
            try:
                with conn.transaction():
                    cur.execute("SELECT 1/0")
            except psycopg.Error:
                pass
            cur.execute("LISTEN fuzz_chan")
            cur.execute("NOTIFY fuzz_chan, 'hello'")
            cur.execute("SET application_name = 'fuzz seed'")
    # A cancel request on a new connection while a query sleeps.
    with psycopg.connect(DSN) as conn:
        threading.Timer(0.3, conn.cancel).start()
        try:
            conn.execute("SELECT pg_sleep(5)")
        except psycopg.Error:
            pass


async def asyncpg_traffic():
    conn = await asyncpg.connect(host=HOST, port=PORT, user="postgres", password=PASSWORD, database="postgres", ssl=False)
    await conn.execute("CREATE TABLE IF NOT EXISTS fuzz_seed_a (id int, v float8, t text[])")
    await conn.executemany("INSERT INTO fuzz_seed_a VALUES ($1, $2, $3)", [(i, i / 3, ["x", None]) for i in range(10)])
    await conn.fetch("SELECT * FROM fuzz_seed_a WHERE id > $1", 2)
    await conn.fetchrow("SELECT $1::uuid, $2::interval, $3::date", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                        __import__("datetime").timedelta(days=1, seconds=3), __import__("datetime").date(2024, 2, 29))
    await conn.copy_records_to_table("fuzz_seed_a", records=[(99, 1.5, ["y"])])
    async with conn.transaction():
        cur = await conn.cursor("SELECT generate_series(1, 100)")
        await cur.fetch(10)
    try:
        await conn.execute("SELECT * FROM does_not_exist")
    except asyncpg.PostgresError:
        pass
    await conn.close()


psycopg_traffic()
asyncio.run(asyncpg_traffic())
