#!/usr/bin/env python3
"""compare.py SUITE DIRECT.xml PGSTASH.xml EXPECTED.txt

Reads two JUnit XML reports of the same suite and prints every test that passes direct but
not through pgstash, each with its class from EXPECTED.txt. Exits 1 if one is not listed.

EXPECTED.txt: one test a line, `TEST_ID  CLASS: reason`, where CLASS is `inherent` (transaction
pooling itself is the reason) or `bug` (a pgstash fault); `#` starts a comment line.
"""
import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    res = {}
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"  (no report {path}: {e})")
        return res
    for tc in root.iter("testcase"):
        tid = f"{tc.get('classname')}::{tc.get('name')}"
        kinds = {child.tag for child in tc}
        if "failure" in kinds or "error" in kinds:
            res[tid] = "failed"
        elif "skipped" in kinds:
            res[tid] = "skipped"
        else:
            res[tid] = "passed"
    return res


def main():
    suite, direct_p, proxy_p, expected_p = sys.argv[1:5]
    direct, proxy = outcomes(direct_p), outcomes(proxy_p)
    expected = {}
    try:
        for line in open(expected_p):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tid, _, reason = line.partition(" ")
            expected[tid] = reason.strip()
    except FileNotFoundError:
        pass
    ids = sorted(set(direct) | set(proxy))
    count = lambda r, k: sum(1 for v in r.values() if v == k)
    print(f"\n{suite}: {len(ids)} tests; direct {count(direct, 'passed')} passed, "
          f"{count(direct, 'failed')} failed, {count(direct, 'skipped')} skipped; "
          f"through pgstash {count(proxy, 'passed')} passed, {count(proxy, 'failed')} failed, "
          f"{count(proxy, 'skipped')} skipped")
    diff = [t for t in ids if direct.get(t) == "passed" and proxy.get(t) != "passed"]
    unexpected = []
    print(f"{suite}: {len(diff)} pass direct but not through pgstash")
    for t in diff:
        why = expected.get(t)
        if why is None:
            unexpected.append(t)
            why = "UNEXPECTED (not in expected-failures list)"
        print(f"  {t} [{proxy.get(t, 'missing')}]  {why}")
    gone = [t for t in expected if t not in diff]
    for t in gone:
        print(f"  listed but no longer failing through pgstash: {t}")
    classes = {}
    for t in diff:
        c = expected.get(t, "unexpected:").split(":")[0]
        classes[c] = classes.get(c, 0) + 1
    print(f"{suite}: by class {classes}")
    reverse = [t for t in ids if proxy.get(t) == "passed" and direct.get(t) == "failed"]
    if reverse:
        print(f"{suite}: {len(reverse)} fail direct but pass through pgstash: " + ", ".join(reverse))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
