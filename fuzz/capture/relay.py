#!/usr/bin/python3
"""A TCP relay that records both directions of every connection, for the fuzzers' seed corpus.

usage: relay.py LISTEN_PORT UPSTREAM_PORT OUTDIR
Each accepted connection N writes OUTDIR/conn-N.c2s (client to server bytes) and
OUTDIR/conn-N.s2c (server to client), exactly as they crossed the relay. Runs until killed.
"""
import itertools
import os
import socket
import sys
import threading

listen_port, upstream_port, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(outdir, exist_ok=True)
counter = itertools.count(1)


def pump(src, dst, path):
    with open(path, "wb") as log:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            log.write(data)
            log.flush()
            try:
                dst.sendall(data)
            except OSError:
                break
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    n = next(counter)
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    for sock in (client, upstream):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    base = os.path.join(outdir, f"conn-{n:04d}")
    threads = [threading.Thread(target=pump, args=(client, upstream, base + ".c2s"), daemon=True),
               threading.Thread(target=pump, args=(upstream, client, base + ".s2c"), daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()
    upstream.close()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(128)
print(f"relay: 127.0.0.1:{listen_port} -> 127.0.0.1:{upstream_port}, recording in {outdir}", flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
