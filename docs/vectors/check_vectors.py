#!/usr/bin/env python3
"""Runs docs/verify_journal.py's checks over every vector in this directory and compares
with expected.json: valid ones intact, broken ones refused at the expected line."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import verify_journal  # noqa: E402

with open(os.path.join(HERE, "expected.json"), encoding="utf-8") as f:
    expected = json.load(f)
failures = 0
for name, want in sorted(expected.items()):
    with open(os.path.join(HERE, name), "rb") as f:
        records, bad = verify_journal.verify(f.read())
    if want["valid"]:
        ok = bad is None
    else:
        ok = bad is not None and bad[0] == want["line"]
    if not ok:
        failures += 1
        print("%s: expected %s, got %s" % (name, want, bad))
print("%d vectors, %d disagreements" % (len(expected), failures))
sys.exit(1 if failures else 0)
