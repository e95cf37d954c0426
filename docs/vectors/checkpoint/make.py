#!/usr/bin/env python3
"""Writes the checkpoint vectors: an export of `ro demo` (EXPORT), a checkpoint of it (CP,
from `ro checkpoint`) and its key (KEY, from `ro keys`), and four rewrites of the export that
the checkpoint must catch. Needs `blake3`.

Usage: make.py EXPORT CP KEY
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from make_vectors import rechain as rechain_records  # noqa: E402


def rechain(objs):
    """Renumbers from 1 and re-hashes, as whoever holds an export can."""
    return "".join(line + "\n" for line in rechain_records(
        [dict(o, seq=i + 1) for i, o in enumerate(objs)]))


def main():
    export, cp, key = sys.argv[1:4]
    text = open(export, encoding="utf-8").read()
    objs = []
    for line in text.splitlines():
        o = json.loads(line)
        o.pop("hash"), o.pop("prev")
        objs.append(o)
    edited = [dict(o) for o in objs]
    edited[3] = json.loads(json.dumps(edited[3]).replace('"after": "agent"', '"after": "human"'))
    assert edited[3] != objs[3], "the edit changes record 4"
    renumbered = objs[:-2] + objs[-1:] + objs[-1:]
    files = {
        "export.jsonl": (text, None),
        "tail-dropped.jsonl": ("".join(l + "\n" for l in text.splitlines()[:-1]),
                               "CHECKPOINT_RECORDS_MISSING"),
        "forged-line-appended.jsonl": (rechain(objs + objs[-1:]), "UNPROVEN_TAIL"),
        "edited-and-rehashed.jsonl": (rechain(edited), "CHECKPOINT_MISMATCH"),
        "dropped-and-renumbered.jsonl": (rechain(renumbered), "CHECKPOINT_MISMATCH"),
    }
    expected = {}
    for name, (content, code) in files.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="") as f:
            f.write(content)
        expected[name] = {"valid": code is None} if code is None else {"valid": False, "code": code}
    with open(os.path.join(HERE, "checkpoint.json"), "w", encoding="utf-8") as f:
        f.write(open(cp, encoding="utf-8").read())
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"public_key": key, "exports": expected}, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
