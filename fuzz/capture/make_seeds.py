#!/usr/bin/python3
"""Turns recorded connections (relay.py) and the repository's configuration examples into
candidate seed inputs for each fuzz harness. The harnesses' own -merge=1 then keeps the ones
that add coverage (fuzz/seed.sh).

usage: make_seeds.py CAPTURE_DIR REPO_ROOT OUT_DIR
writes OUT_DIR/{frontend,backend,startup,scram,config,sql}/*
"""
import base64
import glob
import hashlib
import os
import re
import struct
import sys

capture, root, out = sys.argv[1], sys.argv[2], sys.argv[3]
PIECE = 4096          # typed-frame seeds are cut at frame boundaries into pieces of about this size
MAX_FRAME = 16384     # longer frames (pgbench -i's COPY data) are left out
READ_SIZES = (0xff, 0x06)   # byte 0 of a wire input: 256-byte reads, 7-byte reads

counts = {}


def write(harness, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[harness] = counts.get(harness, 0) + 1


def startup_packets(stream):
    """Splits the untyped packets off the front of a client stream; returns (packets, rest)."""
    packets, at = [], 0
    while at + 8 <= len(stream):
        n, code = struct.unpack(">ii", stream[at:at + 8])
        packets.append(stream[at:at + n])
        at += n
        if code >> 16 == 3:          # a StartupMessage: typed frames follow
            break
    return packets, stream[at:]


def frames(stream):
    at = 0
    while at + 5 <= len(stream):
        (n,) = struct.unpack(">i", stream[at + 1:at + 5])
        if at + 1 + n > len(stream):
            break
        yield stream[at:at + 1 + n]
        at += 1 + n


def pieces(frame_list):
    piece = b""
    for f in frame_list:
        if len(f) > MAX_FRAME:
            continue
        if piece and len(piece) + len(f) > PIECE:
            yield piece
            piece = b""
        piece += f
    if piece:
        yield piece


def wire_seeds(harness, frame_list):
    for p in pieces(frame_list):
        for r in READ_SIZES:
            write(harness, bytes([r]) + p)
    seen = set()
    for f in frame_list:        # one seed per distinct frame shape: type byte and first body bytes
        key = f[:1] + f[5:9]
        if key not in seen and len(f) <= MAX_FRAME:
            seen.add(key)
            write(harness, bytes([0xff]) + f)


def scram_seeds(client_frames, server_frames):
    p = [f[5:] for f in client_frames if f[:1] == b"p"]
    sasl = any(f[:1] == b"R" and f[5:9] == struct.pack(">i", 10) for f in server_frames)
    if not sasl or len(p) < 2:
        return
    initial, final = p[0], p[1]
    mech_end = initial.index(0)
    client_first = initial[mech_end + 5:]
    text = final.decode("utf-8", "replace")
    template = re.sub(r"r=[^,]*", "r=@N", text)
    template = re.sub(r"c=[^,]*", "c=@C", template)
    template = re.sub(r"p=[^,]*$", "p=@P", template).encode()
    for flags, one in ((1, initial), (0, client_first)):
        for extra, two in ((0, final), (4, template)):
            for who in (0, 2):
                write("scram", bytes([flags | extra | who]) + struct.pack(">H", len(one)) + one + two)


for c2s in sorted(glob.glob(os.path.join(capture, "*.c2s"))):
    stream = open(c2s, "rb").read()
    s2c_path = c2s[:-4] + ".s2c"
    server = open(s2c_path, "rb").read() if os.path.exists(s2c_path) else b""
    packets, rest = startup_packets(stream)
    head = b"".join(packets)
    client_frames = list(frames(rest))
    # The server's one-byte answers to SSLRequest/GSSENCRequest come before its frames.
    for pk in packets:
        if len(pk) == 8 and server[:1] in (b"N", b"S", b"G"):
            server = server[1:]
    server_frames = list(frames(server))

    for r in READ_SIZES:
        write("startup", bytes([r]) + head + b"".join(client_frames[:6]))
    for pk in packets:
        write("startup", bytes([0xff]) + pk)
    wire_seeds("frontend", client_frames)
    for f in client_frames:      # the SQL of every Query and Parse
        if f[:1] == b"Q":
            write("sql", f[5:].split(b"\0")[0])
        elif f[:1] == b"P":
            parts = f[5:].split(b"\0")
            if len(parts) > 1:
                write("sql", parts[1])
    wire_seeds("backend", server_frames)
    scram_seeds(client_frames, server_frames)

# Configuration: the repository's own files, ```toml blocks of the docs, and the multi-line
# string literals of the configuration tests.
for path in ["proxy.conf", "userlist.txt"]:
    full = os.path.join(root, path)
    if os.path.exists(full):
        write("config", open(full, "rb").read())
for md in glob.glob(os.path.join(root, "docs", "*.md")) + [os.path.join(root, "README.md")]:
    for block in re.findall(r"```toml\n(.*?)```", open(md, encoding="utf-8").read(), re.S):
        write("config", block.encode())
for test in glob.glob(os.path.join(root, "Tests", "ProxyConfigTests", "*.swift")):
    for lit in re.findall(r'"""\n(.*?)"""', open(test, encoding="utf-8").read(), re.S):
        body = "\n".join(line.strip() for line in lit.splitlines()) + "\n"
        if "\\(" not in body:
            write("config", body.encode())

# SQL: the string literals of the SQL analysis tests that look like statements.
for test in glob.glob(os.path.join(root, "Tests", "SQLAnalysisTests", "*.swift")):
    for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', open(test, encoding="utf-8").read()):
        if re.match(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE|SET|BEGIN|PREPARE|EXECUTE|CREATE|DO|COPY|LISTEN|"
                    r"NOTIFY|EXPLAIN|VALUES|TABLE|SHOW|RESET|DISCARD|LOCK|DECLARE|FETCH|CALL)\b", lit, re.I):
            write("sql", lit.replace('\\"', '"').replace("\\n", "\n").encode())

print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
