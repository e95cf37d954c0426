#!/usr/bin/env python3
"""An independent verifier of ro's exported journals (JSON lines), written from
docs/journal-format.md alone. It shares no code with ro: if both agree on a journal, the
format is specified well enough for another language.

Usage: verify_journal.py FILE     exit 0 when intact; otherwise prints the first bad seq.
Needs the `blake3` package from PyPI.
"""
import json
import sys

import blake3

TAG = b"ro.journal.v1\x00"
MAX_SAFE = 2**53 - 1


def utf16_key(s):
    return s.encode("utf-16-be")


def canon(value):
    """RFC 8785 canonical JSON, restricted to integers (section 'Canonical JSON')."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise ValueError("integer out of range")
        return str(value)
    if isinstance(value, float):
        raise ValueError("floats are not allowed")
    if isinstance(value, str):
        out = ['"']
        for ch in value:
            o = ord(ch)
            if ch == '"':
                out.append('\\"')
            elif ch == "\\":
                out.append("\\\\")
            elif ch == "\b":
                out.append("\\b")
            elif ch == "\f":
                out.append("\\f")
            elif ch == "\n":
                out.append("\\n")
            elif ch == "\r":
                out.append("\\r")
            elif ch == "\t":
                out.append("\\t")
            elif o < 0x20:
                out.append("\\u%04x" % o)
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    if isinstance(value, list):
        return "[" + ",".join(canon(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=utf16_key)
        return "{" + ",".join(canon(k) + ":" + canon(value[k]) for k in keys) + "}"
    raise ValueError("not JSON")


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError("duplicate key " + k)
        seen[k] = v
    return seen


def verify(data):
    prev = "blake3:" + "0" * 64
    last_at = None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        return 1, "the last line does not end with a newline"
    for i, raw in enumerate(lines):
        seq = i + 1
        try:
            text = raw.decode("utf-8")
            obj = json.loads(text, object_pairs_hook=no_duplicates)
            if canon(obj) != text:
                return seq, "line is not canonical JSON"
            h, p = obj.pop("hash"), obj.pop("prev")
        except Exception as e:  # noqa: BLE001 - any failure names the seq
            return seq, "unreadable: %s" % e
        if obj.get("seq") != seq:
            return seq, "sequence gap"
        if p != prev:
            return seq, "broken link"
        body = canon(obj).encode("utf-8")
        want = "blake3:" + blake3.blake3(TAG + bytes.fromhex(p[7:]) + body).hexdigest()
        if want != h:
            return seq, "hash mismatch"
        # Canonical timestamps compare correctly once the fraction is padded.
        at = obj["at"][:-1]
        secs, _, frac = at.partition(".")
        key = (secs, frac.ljust(9, "0"))
        if last_at is not None and key < last_at:
            return seq, "time went backwards"
        last_at = key
        prev = h
    return None, len(lines)


def main():
    with open(sys.argv[1], "rb") as f:
        bad, info = verify(f.read())
    if bad is None:
        print("intact: %d records" % info)
        return 0
    print("damaged at seq %d: %s" % (bad, info))
    return 1


if __name__ == "__main__":
    sys.exit(main())
