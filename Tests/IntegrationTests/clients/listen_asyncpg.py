#!/usr/bin/python3
"""asyncpg's add_listener / remove_listener: a listener gets notifications sent by another
connection while it is idle and, held until its COMMIT, while it is in a transaction; one
sent by itself (with its own backend pid, which PostgreSQL documents as the way to ignore
one's own notifications); nothing after remove_listener; a connection that does not listen
gets nothing. Also a listener taken from an asyncpg Pool.

Prints one JSON line: {"checks": [{"name", "ok", "detail"}...]}.
usage: listen_asyncpg.py HOST PORT PASSWORD DB TAG
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


KW = dict(host=HOST, port=PORT, user="postgres", password=PASSWORD, database=DB, timeout=10, command_timeout=20)


async def wait_for(got, n, seconds=5.0):
    """Waits until `got` has at least n entries (or the time is up)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while len(got) < n and loop.time() < end:
        await asyncio.sleep(0.02)


async def main():
    a = await asyncpg.connect(**KW)
    b = await asyncpg.connect(**KW)
    bystander = await asyncpg.connect(**KW)
    got, seen_by_bystander = [], []
    a.add_termination_listener(lambda c: got.append(("terminated", "", 0)))

    def on_a(conn, pid, channel, payload):
        got.append((channel, payload, pid))

    await a.add_listener("apg_events", on_a)
    await a.add_listener("Apg Mixed", on_a)   # quoted by asyncpg: a case-sensitive name with a space
    await bystander.add_listener("apg_other", lambda *x: seen_by_bystander.append(x[2:]))

    # Idle listener.
    await b.execute("NOTIFY apg_events, 'one'")
    await b.execute("SELECT pg_notify('Apg Mixed', 'two')")
    await wait_for(got, 2)
    check("idle listener gets both, in order", [g[:2] for g in got] == [("apg_events", "one"), ("Apg Mixed", "two")], got)
    check("the pid is the notifying backend's", got[:1] and got[0][2] == b.get_server_pid() or TAG == "proxy",
          f"{got[:1]} vs {b.get_server_pid()}")

    # Listener in a transaction: held until it ends.
    got.clear()
    async with a.transaction():
        await a.execute("SELECT 1")
        await b.execute("NOTIFY apg_events, 'during'")
        await asyncio.sleep(0.3)
        await a.execute("SELECT 2")
        inside = list(got)
    await wait_for(got, 1)
    check("nothing is delivered inside the listener's transaction", inside == [], inside)
    check("delivered after its COMMIT", [g[:2] for g in got] == [("apg_events", "during")], got)

    # A transaction of the sender that rolls back sends nothing; several in one commit keep their order.
    got.clear()
    try:
        async with b.transaction():
            await b.execute("NOTIFY apg_events, 'rolled back'")
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    async with b.transaction():
        for k in range(5):
            await b.execute(f"NOTIFY apg_events, 'batch {k}'")
    await wait_for(got, 5)
    await asyncio.sleep(0.2)
    check("a rolled-back NOTIFY is not delivered; a committed batch arrives in order",
          [g[1] for g in got] == [f"batch {k}" for k in range(5)], got)

    # Its own notification, and its own pid on it.
    got.clear()
    await a.execute("NOTIFY apg_events, 'self'")
    await wait_for(got, 1)
    check("a listener gets its own notification", [g[:2] for g in got] == [("apg_events", "self")], got)
    check("its own notification carries its own backend pid (PostgreSQL's way to skip one's own)",
          got[:1] and got[0][2] == a.get_server_pid(), f"notification pid {got[:1]}, get_server_pid() {a.get_server_pid()}")

    # remove_listener: UNLISTEN.
    got.clear()
    await a.remove_listener("apg_events", on_a)
    await b.execute("NOTIFY apg_events, 'after remove'")
    await b.execute("NOTIFY \"Apg Mixed\", 'still'")
    await wait_for(got, 1)
    await asyncio.sleep(0.3)
    check("after remove_listener only the remaining channel is delivered", [g[:2] for g in got] == [("Apg Mixed", "still")], got)
    check("a connection listening elsewhere got nothing", seen_by_bystander == [], seen_by_bystander)

    # A listener from a Pool, the notifier from the same pool.
    pool = await asyncpg.create_pool(min_size=2, max_size=2, **KW)
    pgot = []
    async with pool.acquire() as listener:
        await listener.add_listener("apg_pool", lambda c, pid, ch, p: pgot.append(p))
        async with pool.acquire() as sender:
            for k in range(20):
                await sender.execute("SELECT pg_notify('apg_pool', $1)", str(k))
        await wait_for(pgot, 20)
        check("pool listener gets 20 notifications in order", pgot == [str(k) for k in range(20)], pgot)
    await pool.close()
    for c in (a, b, bystander):
        await c.close()


try:
    asyncio.run(asyncio.wait_for(main(), 40))
except Exception:  # noqa: BLE001 - a crash is one failed check
    check("script ran to the end", False, traceback.format_exc()[-600:])
print(json.dumps({"checks": checks}))
