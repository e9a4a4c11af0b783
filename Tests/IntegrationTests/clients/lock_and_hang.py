#!/usr/bin/python3
"""Opens a transaction through pgstash, takes a lock, reports it, then hangs until killed
(the test SIGKILLs it). Bounded: exits by itself after 60 s.

usage: lock_and_hang.py DSN MODE TABLE
MODE: row    — SELECT … FOR UPDATE on id 1, then sits idle in transaction;
      table  — LOCK TABLE … IN ACCESS EXCLUSIVE MODE, then sits idle in transaction;
      busy   — SELECT … FOR UPDATE on id 1, then runs pg_sleep(60) inside the transaction.
Prints "LOCKED <backend pid> <txid>" once the lock is held (and "SLEEPING" in busy mode
just before the sleep is sent).
"""
import sys
import time

import psycopg


def main():
    dsn, mode, table = sys.argv[1], sys.argv[2], sys.argv[3]
    conn = psycopg.connect(dsn, autocommit=False, connect_timeout=20)
    if mode == "table":
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    else:
        conn.execute(f"SELECT id FROM {table} WHERE id = 1 FOR UPDATE").fetchall()
    pid, txid = conn.execute("SELECT pg_backend_pid(), txid_current()").fetchone()
    print(f"LOCKED {pid} {txid}", flush=True)
    if mode == "busy":
        print("SLEEPING", flush=True)
        conn.execute("SELECT pg_sleep(60)")
    else:
        time.sleep(60)


if __name__ == "__main__":
    main()
