#!/usr/bin/python3
"""Hold N idle, logged-in PostgreSQL client connections and measure a process's RSS around them.

  idle_clients.py --port P --pid PID [--host H] [--user U] [--password PW] [--db DB] [--n 900]
                  [--settle 2] [--sample K] [--json OUT.json]

Standard library only (pgbench cannot hold idle connections; psycopg is not on every box).
Speaks the v3 startup and trust / cleartext / md5 / SCRAM-SHA-256 authentication itself.

1. one warm-up connection logs in, runs `SELECT 1` and leaves (so the proxy's pool, its
   upstream login and its lazily allocated structures exist before the first measurement);
2. after --settle seconds, VmRSS of PID (/proc/PID/status) is read: "before";
3. N connections are opened one after the other, each until ReadyForQuery, and held open,
   sending nothing more;
4. after --settle seconds, VmRSS is read again: "after"; the figure is (after − before) / N;
5. with --sample K, K of the held connections (spread over them) each run `SELECT 1` and the
   latencies are reported (the held clients are still served); with --burst, every held
   connection then sends a query at once and all answers are read (they queue for the pool);
6. every connection is closed (Terminate) and the result printed (and written as JSON).

It never asserts anything: a connection that fails is counted and the first error reported.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import resource
import socket
import struct
import sys
import time


def vm(pid, key):
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PgError(Exception):
    pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise PgError("connection closed by the server")
        buf += chunk
    return buf


def read_msg(sock):
    head = recv_exact(sock, 5)
    t, ln = head[:1], struct.unpack("!I", head[1:])[0]
    return t, recv_exact(sock, ln - 4)


def send_msg(sock, t, body):
    sock.sendall(t + struct.pack("!I", len(body) + 4) + body)


def error_text(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode(errors="replace")
    return "%s %s: %s" % (fields.get(b"S", "ERROR"), fields.get(b"C", "?"), fields.get(b"M", ""))


_SALTED = {}


def scram_login(sock, user, password, mechs):
    if "SCRAM-SHA-256" not in mechs:
        raise PgError("server offers SASL %s, not SCRAM-SHA-256" % mechs)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=,r=" + nonce
    first = ("n,," + first_bare).encode()
    body = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
    send_msg(sock, b"p", body)
    t, m = read_msg(sock)
    if t == b"E":
        raise PgError(error_text(m))
    code = struct.unpack("!I", m[:4])[0]
    if t != b"R" or code != 11:
        raise PgError("expected SASLContinue, got %r %d" % (t, code))
    server_first = m[4:].decode()
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    if not attrs["r"].startswith(nonce):
        raise PgError("server nonce does not extend the client's")
    salt, iters = base64.b64decode(attrs["s"]), int(attrs["i"])
    key = (password, salt, iters)
    if key not in _SALTED:      # a proxy with a stored verifier sends the same salt every time
        _SALTED[key] = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iters)
    salted = _SALTED[key]
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_wo_proof = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((first_bare, server_first, final_wo_proof)).encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    send_msg(sock, b"p", (final_wo_proof + ",p=" + base64.b64encode(proof).decode()).encode())
    t, m = read_msg(sock)
    if t == b"E":
        raise PgError(error_text(m))
    if t != b"R" or struct.unpack("!I", m[:4])[0] != 12:
        raise PgError("expected SASLFinal")


def connect(host, port, user, password, db, timeout=15.0):
    """A logged-in socket, ReadyForQuery received."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        params = b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0" + \
            b"application_name\0idle_clients\0\0"
        body = struct.pack("!I", 196608) + params
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        while True:
            t, m = read_msg(sock)
            if t == b"R":
                code = struct.unpack("!I", m[:4])[0]
                if code == 0:
                    continue
                if code == 3:
                    send_msg(sock, b"p", password.encode() + b"\0")
                elif code == 5:
                    inner = hashlib.md5(password.encode() + user.encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + m[4:8]).hexdigest()
                    send_msg(sock, b"p", b"md5" + outer.encode() + b"\0")
                elif code == 10:
                    mechs = [x.decode() for x in m[4:].split(b"\0") if x]
                    scram_login(sock, user, password, mechs)
                else:
                    raise PgError("unsupported authentication request %d" % code)
            elif t == b"E":
                raise PgError(error_text(m))
            elif t == b"Z":
                sock.settimeout(None)
                return sock
            # S (ParameterStatus), K (BackendKeyData), N (notice): ignored
    except BaseException:
        sock.close()
        raise


def simple_query(sock, sql):
    send_msg(sock, b"Q", sql.encode() + b"\0")
    err = None
    while True:
        t, m = read_msg(sock)
        if t == b"E":
            err = error_text(m)
        if t == b"Z":
            if err:
                raise PgError(err)
            return


def terminate(sock):
    try:
        send_msg(sock, b"X", b"")
    except OSError:
        pass
    sock.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True, help="the process whose RSS is measured")
    p.add_argument("--user", default="postgres")
    p.add_argument("--password", default=os.environ.get("PGPASSWORD", ""))
    p.add_argument("--db", default="postgres")
    p.add_argument("--n", type=int, default=900)
    p.add_argument("--settle", type=float, default=2.0)
    p.add_argument("--sample", type=int, default=0, help="held connections that run SELECT 1 at the end")
    p.add_argument("--burst", action="store_true", help="then every held connection runs a query at once")
    p.add_argument("--label", default="")
    p.add_argument("--json")
    a = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.n + 64
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
        except (ValueError, OSError):
            pass

    res = {"label": a.label, "n": a.n, "pid": a.pid}
    try:
        s = connect(a.host, a.port, a.user, a.password, a.db)
        simple_query(s, "SELECT 1")
        terminate(s)
    except (OSError, PgError) as e:
        res["error"] = "warm-up connection: %s" % e
    time.sleep(a.settle)
    res["before_kb"] = vm(a.pid, "VmRSS")
    socks, failed, first_err = [], 0, None
    t0 = time.time()
    if "error" not in res:
        for _ in range(a.n):
            try:
                socks.append(connect(a.host, a.port, a.user, a.password, a.db))
            except (OSError, PgError) as e:
                failed += 1
                first_err = first_err or str(e)
                if failed >= 20 and not socks:
                    break
    res["login_seconds"] = round(time.time() - t0, 2)
    time.sleep(a.settle)
    res["after_kb"] = vm(a.pid, "VmRSS")
    res["hwm_kb"] = vm(a.pid, "VmHWM")
    # Are they still logged in? A proxy may drop idle clients; count those that still answer.
    alive = 0
    for s in socks:
        try:
            s.setblocking(False)
            try:
                data = s.recv(1)
                if data == b"":
                    continue          # closed by the server
            except BlockingIOError:
                pass
            alive += 1
        finally:
            s.setblocking(True)
    res["held"] = len(socks)
    res["alive_at_after"] = alive
    if a.sample and socks:
        step = max(len(socks) // a.sample, 1)
        lat, sample_failed, sample_err = [], 0, None
        for s in socks[::step][:a.sample]:
            t1 = time.time()
            try:
                simple_query(s, "SELECT 1")
                lat.append((time.time() - t1) * 1000.0)
            except (OSError, PgError) as e:
                sample_failed += 1
                sample_err = sample_err or str(e)
        lat.sort()
        res["sample"] = len(lat) + sample_failed
        res["sample_failed"] = sample_failed
        if lat:
            res["sample_ms_median"] = round(lat[len(lat) // 2], 2)
            res["sample_ms_max"] = round(lat[-1], 2)
        if sample_err:
            res["sample_error"] = sample_err
    if a.burst and socks:
        # Every held client sends SELECT 1 at once, then every answer is read:
        # the clients queue for the pool's servers (max_upstream) and each must be served.
        t1 = time.time()
        sent = []
        for s in socks:
            try:
                send_msg(s, b"Q", b"SELECT 1\0")
                sent.append(s)
            except OSError:
                pass
        burst_failed, burst_err = len(socks) - len(sent), None
        for s in sent:
            try:
                err = None
                while True:
                    t, m = read_msg(s)
                    if t == b"E":
                        err = error_text(m)
                    if t == b"Z":
                        break
                if err:
                    raise PgError(err)
            except (OSError, PgError) as e:
                burst_failed += 1
                burst_err = burst_err or str(e)
        res["burst"] = len(socks)
        res["burst_failed"] = burst_failed
        res["burst_seconds"] = round(time.time() - t1, 2)
        time.sleep(a.settle)
        res["after_burst_kb"] = vm(a.pid, "VmRSS")
        if burst_err:
            res["burst_error"] = burst_err
    res["failed"] = failed
    if first_err:
        res["first_error"] = first_err
    for s in socks:
        terminate(s)
    if res.get("before_kb") is not None and res.get("after_kb") is not None and len(socks):
        res["per_client_kb"] = round((res["after_kb"] - res["before_kb"]) / float(len(socks)), 2)
    line = "%s: %d idle clients held (%d failed), RSS %s → %s kB" % (
        a.label or "target", len(socks), failed, res.get("before_kb"), res.get("after_kb"))
    if "per_client_kb" in res:
        line += ", %.2f kB per client" % res["per_client_kb"]
    if res.get("sample"):
        line += "; SELECT 1 on %d of them: %d failed, median %s ms, max %s ms" % (
            res["sample"], res["sample_failed"], res.get("sample_ms_median"), res.get("sample_ms_max"))
    if res.get("burst"):
        line += "; all %d at once: %d failed, %.2f s, RSS then %s kB" % (
            res["burst"], res["burst_failed"], res["burst_seconds"], res.get("after_burst_kb"))
    if res.get("error") or first_err:
        line += "; error: %s" % (res.get("error") or first_err)
    print("    " + line, flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
