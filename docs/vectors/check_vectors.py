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
checkpoint_dir = os.path.join(HERE, "checkpoint")
with open(os.path.join(checkpoint_dir, "expected.json"), encoding="utf-8") as f:
    checkpoint_expected = json.load(f)
with open(os.path.join(checkpoint_dir, "checkpoint.json"), encoding="utf-8") as f:
    checkpoint = json.load(f)
for name, want in sorted(checkpoint_expected["exports"].items()):
    with open(os.path.join(checkpoint_dir, name), "rb") as f:
        records, bad = verify_journal.verify(f.read())
    refused = bad is not None
    if not refused:
        try:
            verify_journal.check_checkpoint(records, checkpoint,
                                            checkpoint_expected["public_key"], False)
        except verify_journal.Refused:
            refused = True
    if refused == want["valid"]:
        failures += 1
        print("checkpoint/%s: expected %s" % (name, want))
print("%d vectors and %d checkpoint vectors, %d disagreements"
      % (len(expected), len(checkpoint_expected["exports"]), failures))
sys.exit(1 if failures else 0)
