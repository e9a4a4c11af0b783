#!/usr/bin/python3
"""LISTEN/NOTIFY under load with psycopg 3 (3.1: `notifies()` has no timeout, so each
listener polls its own socket and reads libpq's queue; notifications that arrive during a
query reach the same handler through `add_notify_handler`).

LISTENERS connections each listen on two of CHANNELS channels (half of them LISTEN inside an
explicit transaction, half run short transactions of their own while notifications arrive);
BUSY other connections run short transactions all the time; SENDERS connections send
NOTIFICATIONS notifications whose payloads are their commit order: each sender transaction
takes the next number from a row it locks (so commits happen in number order) and calls
pg_notify with it. Finally one "end" notification per channel.

Every listener must get every notification of its channels exactly once, in ascending order,
then its "end" markers, and nothing of other channels. Prints one JSON summary line.

usage: listen_load.py DSN LISTENERS NOTIFICATIONS CHANNELS BUSY [SENDERS]
"""
import json
import random
import select
import sys
import threading
import time

import psycopg

DEADLINE = 45.0


def main():
    dsn = sys.argv[1]
    listeners, notifications, channels, busy = (int(a) for a in sys.argv[2:6])
    senders = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    names = [f"load_ch_{i}" for i in range(channels)]
    start = time.monotonic()
    deadline = start + DEADLINE
    lock = threading.Lock()
    errors = []
    stop_busy = threading.Event()
    stats = {"busy_transactions": 0, "listener_transactions": 0}

    def fail(msg):
        with lock:
            errors.append(msg)

    with psycopg.connect(dsn, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS notify_seq")
        setup.execute("CREATE TABLE notify_seq (n int NOT NULL)")
        setup.execute("INSERT INTO notify_seq VALUES (0)")
        setup.execute("DROP TABLE IF EXISTS busy_rows")
        setup.execute("CREATE TABLE busy_rows (id int PRIMARY KEY, n int NOT NULL)")
        setup.execute("INSERT INTO busy_rows SELECT g, 0 FROM generate_series(0, 19) g")

    registered = threading.Barrier(listeners + 1, timeout=DEADLINE)
    results = [None] * listeners

    def listener(i):
        mine = sorted({names[i % channels], names[(i + 1) % channels]})
        got = []
        ends = set()
        conn = None
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=30)
            conn.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
            if i % 2 == 0:
                with conn.transaction():
                    for ch in mine:
                        conn.execute(f"LISTEN {ch}")
            else:
                for ch in mine:
                    conn.execute(f"LISTEN {ch}")
            registered.wait()
            fd = conn.fileno()
            while time.monotonic() < deadline:
                if i % 2 == 1 and random.random() < 0.3:
                    with conn.transaction():
                        conn.execute("SELECT pg_sleep(0.005)")
                    with lock:
                        stats["listener_transactions"] += 1
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    conn.pgconn.consume_input()
                    while (n := conn.pgconn.notifies()) is not None:
                        got.append((n.relname.decode(), n.extra.decode()))
                ends = {ch for ch, p in got if p == "end"}
                if ends == set(mine):
                    break
            # Anything still arriving (a duplicate) is caught by one more round trip.
            conn.execute("SELECT 1")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            fail(f"listener {i}: {type(e).__name__}: {e}")
            try:
                registered.abort()
            except Exception:  # noqa: BLE001
                pass
        finally:
            results[i] = (mine, got)
            if conn is not None:
                conn.close()

    def busy_client(i):
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=30) as conn:
                while not stop_busy.is_set() and time.monotonic() < deadline:
                    with conn.transaction():
                        conn.execute("UPDATE busy_rows SET n = n + 1 WHERE id = %s", (i % 20,))
                        conn.execute("SELECT pg_sleep(0.002)")
                    with lock:
                        stats["busy_transactions"] += 1
        except Exception as e:  # noqa: BLE001
            fail(f"busy client {i}: {type(e).__name__}: {e}")

    sent = []  # (number, channel) in commit order

    def sender(k, count):
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=30) as conn:
                for _ in range(count):
                    ch = random.choice(names)
                    with conn.transaction():
                        n = conn.execute("UPDATE notify_seq SET n = n + 1 RETURNING n").fetchone()[0]
                        conn.execute("SELECT pg_notify(%s, %s)", (ch, str(n)))
                    with lock:
                        sent.append((n, ch))
        except Exception as e:  # noqa: BLE001
            fail(f"sender {k}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=listener, args=(i,), daemon=True) for i in range(listeners)]
    for t in threads:
        t.start()
    busy_threads = [threading.Thread(target=busy_client, args=(i,), daemon=True) for i in range(busy)]
    for t in busy_threads:
        t.start()
    try:
        registered.wait()
    except threading.BrokenBarrierError:
        fail("not every listener registered in time")
    registered_at = time.monotonic() - start

    per = [notifications // senders + (1 if k < notifications % senders else 0) for k in range(senders)]
    sender_threads = [threading.Thread(target=sender, args=(k, per[k]), daemon=True) for k in range(senders)]
    for t in sender_threads:
        t.start()
    for t in sender_threads:
        t.join(max(0.1, deadline - time.monotonic()))
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for ch in names:
                conn.execute("SELECT pg_notify(%s, 'end')", (ch,))
    except Exception as e:  # noqa: BLE001
        fail(f"end markers: {type(e).__name__}: {e}")
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    stop_busy.set()
    for t in busy_threads:
        t.join(max(0.1, deadline + 5 - time.monotonic()))

    sent.sort()
    if [n for n, _ in sent] != list(range(1, len(sent) + 1)):
        fail(f"senders' numbers are not 1…{len(sent)}")
    wrong = []
    complete = 0
    for i, res in enumerate(results):
        if res is None:
            wrong.append(f"listener {i}: no result")
            continue
        mine, got = res
        expected = [(ch, str(n)) for n, ch in sent if ch in mine] + [(ch, "end") for ch in mine]
        body = [g for g in got if g[1] != "end"]
        endings = [g for g in got if g[1] == "end"]
        problems = []
        foreign = [g for g in got if g[0] not in mine]
        if foreign:
            problems.append(f"{len(foreign)} of other channels, e.g. {foreign[:3]}")
        if len(set(body)) != len(body):
            dups = sorted({g for g in body if body.count(g) > 1})
            problems.append(f"duplicates {dups[:5]}")
        if sorted(endings) != sorted((ch, "end") for ch in mine):
            problems.append(f"end markers {endings}")
        missing = [e for e in expected[:-len(mine)] if e not in set(body)]
        if missing:
            problems.append(f"{len(missing)} missing, e.g. {missing[:5]}")
        numbers = [int(p) for _, p in body if p.isdigit()]
        if numbers != sorted(numbers):
            problems.append(f"out of commit order: {numbers[:20]}")
        if problems:
            wrong.append(f"listener {i} on {mine}: got {len(body)} of {len(expected) - len(mine)}: " + "; ".join(problems))
        else:
            complete += 1

    print(json.dumps({
        "sent": len(sent),
        "listeners_complete": complete,
        "listener_problems": len(wrong),
        "first_problems": wrong[:8],
        "errors": len(errors),
        "first_errors": errors[:8],
        "busy_transactions": stats["busy_transactions"],
        "listener_transactions": stats["listener_transactions"],
        "registered_after": round(registered_at, 2),
        "seconds": round(time.monotonic() - start, 2),
    }))


if __name__ == "__main__":
    main()
