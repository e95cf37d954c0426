#!/usr/bin/env python3
"""Writes the journal-format test vectors from an export of `ro demo` (FILE): the valid
journals, and broken ones each refused at a known line by a known step of
docs/journal-format.md. The outputs are checked in; CI runs both verifiers over them
(`crates/ro-bindings/tests/vectors.rs`, `.ci/run`). Needs `blake3`.

Usage: make_vectors.py DEMO_EXPORT.jsonl
"""
import json
import os
import sys

import blake3

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = b"ro.journal.v1\x00"
ZERO = "blake3:" + "0" * 64


def canon(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def rechain(objs):
    """Re-hashes a list of records (dicts without hash/prev) into export lines."""
    prev, out = ZERO, []
    for o in objs:
        body = canon(o).encode("utf-8")
        h = "blake3:" + blake3.blake3(TAG + bytes.fromhex(prev[7:]) + body).hexdigest()
        line = dict(o, hash=h, prev=prev)
        out.append(canon(line))
        prev = h
    return out


def main():
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
    records = []
    for l in lines:
        o = json.loads(l)
        o.pop("hash"), o.pop("prev")
        records.append(o)
    base = lines[:12]
    objs = records[:12]
    vectors = {}

    def write(name, text, valid, line=None, step=None):
        with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        vectors[name] = {"valid": valid} if valid else {"valid": False, "line": line, "step": step}

    def joined(ls):
        return "".join(l + "\n" for l in ls)

    def respelled(field_edit):
        edited = [dict(o) for o in objs]
        field_edit(edited[4])
        return joined(rechain(edited))

    write("valid-plane.jsonl", joined(lines), True)
    write("valid-empty.jsonl", "", True)
    write("invalid-no-final-newline.jsonl", joined(base)[:-1], False, 12, "newline")
    write("invalid-blank-line.jsonl", joined(base[:4] + [""] + base[4:]), False, 5, "JSON")
    write("invalid-whitespace.jsonl",
          joined(base[:4] + ["{ " + base[4][1:]] + base[5:]), False, 5, "canonical JSON")
    write("invalid-duplicate-key.jsonl",
          joined(base[:4] + [base[4][:-1] + ',"seq":5}'] + base[5:]), False, 5, "JSON")
    write("invalid-seq-gap.jsonl", joined(base[:4] + base[5:]), False, 5, "sequence")
    broken = json.loads(base[4])
    broken["prev"] = json.loads(base[2])["hash"]
    write("invalid-broken-link.jsonl", joined(base[:4] + [canon(broken)] + base[5:]),
          False, 5, "link")
    tampered = json.loads(base[4])
    tampered["actor"]["id"] = tampered["actor"]["id"] + "x"
    write("invalid-hash-mismatch.jsonl", joined(base[:4] + [canon(tampered)] + base[5:]),
          False, 5, "hash")
    upper = json.loads(base[4])
    upper["prev"] = "blake3:" + upper["prev"][7:].upper()
    write("invalid-uppercase-digest.jsonl", joined(base[:4] + [canon(upper)] + base[5:]),
          False, 5, "envelope")

    def at(text):
        return lambda o: o.__setitem__("at", text)

    write("invalid-at-offset.jsonl", respelled(at("2026-03-02T13:00:00+00:00")), False, 5, "time")
    write("invalid-at-trailing-zeros.jsonl", respelled(at("2026-03-02T13:00:00.000Z")), False, 5,
          "time")
    write("invalid-at-lowercase-z.jsonl", respelled(at("2026-03-02T13:00:00z")), False, 5, "time")
    write("invalid-at-space.jsonl", respelled(at("2026-03-02 13:00:00Z")), False, 5, "time")
    write("invalid-at-year-zero.jsonl", respelled(at("0000-03-02T13:00:00Z")), False, 5, "time")
    write("invalid-at-leap-second.jsonl", respelled(at("2026-03-02T12:59:60Z")), False, 5, "time")
    write("invalid-time-backwards.jsonl", respelled(at("2026-03-02T12:59:59Z")), False, 5, "time")
    write("invalid-unknown-member.jsonl", respelled(lambda o: o.__setitem__("note", "x")), False, 5,
          "envelope")
    write("invalid-actor-kind.jsonl",
          respelled(lambda o: o.__setitem__("actor", {"id": "alice", "kind": "robot"})), False, 5,
          "envelope")
    write("invalid-seq-boolean.jsonl", respelled(lambda o: o.__setitem__("seq", True)), False, 5,
          "sequence")
    write("invalid-schema-version-zero.jsonl",
          respelled(lambda o: o.__setitem__("schema_version", 0)), False, 5, "envelope")
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(vectors, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
