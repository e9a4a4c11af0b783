"""Writes the functions of pgstash a relayed request runs through, hottest first, one
`.text.SYMBOL` section name per line (the linker's --section-ordering-file format).

    python3 linker/hot_functions.py SHORT.out:LONG.out:TRANSACTIONS ... > linker/hot-functions.txt

Each argument is a pair of callgrind profiles of the same pgbench run at two lengths and the
number of transactions between them (bench/instructions.sh): a function's instructions per
transaction is (self instructions in LONG - in SHORT) / TRANSACTIONS, so start-up and logins
cancel out. A function is listed when it reaches MIN (default 0.5) in any pair.
"""
import collections
import os
import re
import sys


def self_cost(path):
    """Self instructions of each function of the pgstash binary in one callgrind profile."""
    objects, names, cost = {}, {}, collections.Counter()
    current, current_object, object_name, in_call = None, None, None, False
    for line in open(path):
        line = line.rstrip("\n")
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            if m.group(3):
                objects[m.group(2)] = m.group(3)
            if m.group(1) == "ob":
                object_name = objects[m.group(2)]
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, index, name = m.groups()
            if name:
                names[index] = name
            if kind == "fn":
                current, current_object = names[index], object_name
            continue
        if line.startswith("calls="):
            in_call = True      # the next cost line is the call's inclusive cost
            continue
        fields = line.split()
        if len(fields) >= 2 and re.match(r"^(0x[0-9a-f]+|[+-]?\d+|\*)$", fields[0]) and fields[1].isdigit() and current:
            if in_call:
                in_call = False
                continue
            if current_object and "pgstash" in os.path.basename(current_object):
                cost[current] += int(fields[1])
    return cost


def main():
    per_transaction = collections.Counter()
    for spec in sys.argv[1:]:
        short, long, transactions = spec.rsplit(":", 2)
        a, b = self_cost(short), self_cost(long)
        for name in b:
            per_transaction[name] = max(per_transaction[name], (b[name] - a.get(name, 0)) / int(transactions))
    least = float(os.environ.get("MIN", "0.5"))
    for name, value in sorted(per_transaction.items(), key=lambda kv: -kv[1]):
        if value >= least:
            print(f".text.{name}")


if __name__ == "__main__":
    main()
