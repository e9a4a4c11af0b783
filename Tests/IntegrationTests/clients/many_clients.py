#!/usr/bin/python3
"""N concurrent psycopg clients through pgstash (one thread each), all connected at once,
each then running a few short transactions: an UPDATE of a shared counter row, a
parameterized SELECT whose result is checked, and a short pg_sleep so that clients queue for
servers. Prints one JSON summary line.

usage: many_clients.py DSN CLIENTS TRANSACTIONS TABLE
"""
import json
import sys
import threading
import time

import psycopg

DEADLINE = 50.0


def main():
    dsn, clients, transactions, table = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    lock = threading.Lock()
    stats = {"connected": 0, "clients_ok": 0, "ok_transactions": 0, "wrong_results": 0}
    errors = []
    # Every client waits here until all are connected, so that the proxy really holds
    # CLIENTS sessions at once while the transactions run.
    barrier = threading.Barrier(clients, timeout=DEADLINE - 10)

    def client(i):
        conn = None
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=40, prepare_threshold=None)
            with lock:
                stats["connected"] += 1
            barrier.wait()
            for t in range(transactions):
                with conn.transaction():
                    conn.execute(f"UPDATE {table} SET n = n + 1 WHERE id = %s", (i % 50,))
                    v = conn.execute("SELECT %s::int * 1000 + %s::int", (i, t)).fetchone()[0]
                    conn.execute("SELECT pg_sleep(0.005)")
                with lock:
                    if v == i * 1000 + t:
                        stats["ok_transactions"] += 1
                    else:
                        stats["wrong_results"] += 1
            with lock:
                stats["clients_ok"] += 1
        except threading.BrokenBarrierError:
            with lock:
                errors.append(f"client {i}: not all clients connected in time")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            with lock:
                errors.append(f"client {i}: {type(e).__name__}: {e}".strip())
            barrier.abort()
        finally:
            if conn is not None:
                conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, DEADLINE - (time.monotonic() - start)))
    alive = sum(t.is_alive() for t in threads)
    with lock:
        print(json.dumps({
            "clients": clients, **stats, "errors": len(errors) + alive, "still_running": alive,
            "first_errors": errors[:5], "seconds": round(time.monotonic() - start, 2),
        }), flush=True)


if __name__ == "__main__":
    main()
