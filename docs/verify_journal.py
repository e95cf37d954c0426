#!/usr/bin/env python3
"""An independent verifier of ro's exported journals (JSON lines), written from
docs/journal-format.md alone. It shares no code with ro: if both agree on a journal, the
format is specified well enough for another language.

Usage:
  verify_journal.py FILE
  verify_journal.py FILE --checkpoint CP.json [--public-key HEX] [--allow-unproven-tail]
  verify_journal.py --proof PROOF.json --checkpoint CP.json [--old-checkpoint CP0.json] [--public-key HEX]
    (an inclusion proof against a checkpoint, or a consistency proof between two, without
    the journal)

Exit 0 when intact (and matching the checkpoint); 1 with the line and the step that refused
it; 2 when the arguments or files cannot be read. It never fails with a traceback.
Needs the `blake3` package from PyPI, and `cryptography` to check a checkpoint's signature.
"""
import datetime
import json
import re
import sys

import blake3

TAG = b"ro.journal.v1\x00"
MAX_SAFE = 2**53 - 1
ZERO = "blake3:" + "0" * 64
MEMBERS = {"actor", "at", "causation", "correlation_id", "event", "hash", "prev",
           "schema_version", "seq"}
KINDS = {"human", "agent", "service"}
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
DIGEST = re.compile(r"blake3:[0-9a-f]{64}")
AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{0,8}[1-9]))?Z")


class Refused(Exception):
    """A refusal: the step of docs/journal-format.md that failed, and why."""


def utf16_key(s):
    return s.encode("utf-16-be", "surrogatepass")


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
            if 0xD800 <= o <= 0xDFFF:
                raise ValueError("a lone surrogate")
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


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def instant(text):
    """The instant of a canonical timestamp, as (seconds since 0001-01-01, nanoseconds)."""
    if not isinstance(text, str):
        raise Refused("envelope: `at` is not a string")
    m = AT.fullmatch(text)
    if not m:
        raise Refused("time: `at` %r is not the canonical spelling (UTC, `Z`, no trailing "
                      "zero in the fraction)" % text)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    if y < 1:
        raise Refused("time: year 0000 is out of range")
    try:
        dt = datetime.datetime(y, mo, d, h, mi, s)
    except ValueError as e:
        raise Refused("time: `at` %r is not a valid instant: %s" % (text, e)) from None
    frac = (m.group(7) or "").ljust(9, "0")
    return ((dt - datetime.datetime(1, 1, 1)).total_seconds(), int(frac))


def check_envelope(obj, seq):
    if not isinstance(obj, dict):
        raise Refused("envelope: the line is not a JSON object")
    if set(obj) != MEMBERS:
        raise Refused("envelope: members %s, expected exactly %s"
                      % (sorted(obj), sorted(MEMBERS)))
    if not is_int(obj["seq"]) or obj["seq"] != seq:
        raise Refused("sequence: `seq` is %r, expected %d" % (obj["seq"], seq))
    if not is_int(obj["schema_version"]) or obj["schema_version"] < 1:
        raise Refused("envelope: `schema_version` must be an integer >= 1")
    actor = obj["actor"]
    if not isinstance(actor, dict) or set(actor) != {"id", "kind"}:
        raise Refused("envelope: `actor` must be {\"id\", \"kind\"}")
    if not isinstance(actor["id"], str) or not ID.fullmatch(actor["id"]):
        raise Refused("envelope: `actor.id` is not an identifier")
    if actor["kind"] not in KINDS:
        raise Refused("envelope: `actor.kind` must be human, agent or service")
    for name in ("hash", "prev"):
        if not isinstance(obj[name], str) or not DIGEST.fullmatch(obj[name]):
            raise Refused("envelope: `%s` is not blake3: and 64 lowercase hex digits" % name)
    if obj["causation"] is not None and (
            not isinstance(obj["causation"], str) or not DIGEST.fullmatch(obj["causation"])):
        raise Refused("envelope: `causation` is neither null nor a digest")
    if obj["correlation_id"] is not None and not isinstance(obj["correlation_id"], str):
        raise Refused("envelope: `correlation_id` is neither null nor a string")
    if not isinstance(obj["event"], dict):
        raise Refused("envelope: `event` is not an object")
    return instant(obj["at"])


def verify(data):
    """Returns (records, None) when intact, or (None, (line, reason))."""
    records = []
    if data == b"":
        return records, None
    if not data.endswith(b"\n"):
        return None, (data.count(b"\n") + 1,
                      "newline: the export does not end with a newline (a truncated line)")
    prev = ZERO
    last_at = None
    for i, raw in enumerate(data[:-1].split(b"\n")):
        seq = i + 1
        try:
            try:
                text = raw.decode("utf-8")
                obj = json.loads(text, object_pairs_hook=no_duplicates)
                if canon(obj) != text:
                    raise Refused("canonical JSON: the line is not in canonical form")
            except Refused:
                raise
            except Exception as e:  # noqa: BLE001 - any failure names the line and step
                raise Refused("JSON: unreadable: %s" % e) from None
            at = check_envelope(obj, seq)
            h, p = obj.pop("hash"), obj.pop("prev")
            if p != prev:
                raise Refused("link: `prev` is not the previous line's `hash`")
            body = canon(obj).encode("utf-8")
            want = "blake3:" + blake3.blake3(TAG + bytes.fromhex(p[7:]) + body).hexdigest()
            if want != h:
                raise Refused("hash: `hash` is not BLAKE3(tag ‖ prev ‖ body)")
            if last_at is not None and at < last_at:
                raise Refused("time: `at` is before the previous record's")
        except Refused as e:
            return None, (seq, str(e))
        last_at = at
        prev = h
        records.append((h, obj))
    return records, None


# Checkpoints and Merkle proofs (section "Checkpoints and Merkle proofs").

def raw(digest):
    return bytes.fromhex(digest[7:])


def leaf(record_hash):
    return blake3.blake3(b"\x00" + raw(record_hash)).digest()


def node(left, right):
    return blake3.blake3(b"\x01" + left + right).digest()


def merkle_root(leaves):
    if not leaves:
        return blake3.blake3(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def plane_id(first):
    causation = first["causation"] or ""
    text = ("ro.plane.v1\x00%s\x00%s\x00%s\x00"
            % (first["at"], first["actor"]["id"], causation)).encode("utf-8")
    return "blake3:" + blake3.blake3(text).hexdigest()


def check_signature(cp, public_key):
    """Checks a checkpoint's shape and signature (by the trusted key when given)."""
    fields = {"format", "plane_id", "size", "head_hash", "merkle_root", "at", "public_key",
              "signature"}
    if not isinstance(cp, dict) or set(cp) != fields or cp["format"] != "ro.checkpoint.v1":
        raise Refused("checkpoint: not a ro.checkpoint.v1 object")
    if not is_int(cp["size"]) or cp["size"] < 0:
        raise Refused("checkpoint: `size` is not a count")
    for name in ("plane_id", "head_hash", "merkle_root"):
        if not isinstance(cp[name], str) or not DIGEST.fullmatch(cp[name]):
            raise Refused("checkpoint: `%s` is not a digest" % name)
    instant(cp["at"])
    if public_key is not None and public_key != cp["public_key"]:
        raise Refused("checkpoint: signed by %s, not by the trusted key" % cp["public_key"])
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise Refused("checkpoint: the signature cannot be checked: install `cryptography`") \
            from None
    message = (b"ro.checkpoint.v1\x00" + raw(cp["plane_id"]) + cp["size"].to_bytes(8, "big")
               + raw(cp["head_hash"]) + raw(cp["merkle_root"]) + cp["at"].encode("ascii"))
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp["public_key"]))
        key.verify(bytes.fromhex(cp["signature"]), message)
    except (ValueError, TypeError, InvalidSignature):
        raise Refused("checkpoint: the signature does not verify") from None


def verify_inclusion(leaf_hash, index, size, path, root):
    """RFC 9162, 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    """RFC 9162, 2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    nodes = ([first_root] if first & (first - 1) == 0 else []) + list(path)
    if not nodes:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def check_proof(proof, cp, old_cp, public_key):
    check_signature(cp, public_key)
    try:
        path = [raw(d) for d in proof["path"]]
        if old_cp is None:
            if proof["size"] != cp["size"]:
                raise Refused("proof: for a tree of %r records, the checkpoint covers %d"
                              % (proof["size"], cp["size"]))
            ok = verify_inclusion(leaf(proof["record_hash"]), proof["seq"] - 1, proof["size"],
                                  path, raw(cp["merkle_root"]))
        else:
            check_signature(old_cp, public_key)
            if (proof["old_size"], proof["new_size"]) != (old_cp["size"], cp["size"]):
                raise Refused("proof: its sizes are not the checkpoints'")
            if old_cp["plane_id"] != cp["plane_id"]:
                raise Refused("proof: the checkpoints are of different planes")
            ok = verify_consistency(proof["old_size"], proof["new_size"],
                                    raw(old_cp["merkle_root"]), raw(cp["merkle_root"]), path)
    except Refused:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed proof is refused, not a crash
        raise Refused("proof: malformed: %s" % e) from None
    if not ok:
        raise Refused("proof: does not verify against the checkpoint(s)")


def check_checkpoint(records, cp, public_key, allow_tail):
    check_signature(cp, public_key)
    size = cp["size"]
    if len(records) < size:
        raise Refused("checkpoint: the export has %d records, the checkpoint covers %d: "
                      "records were removed" % (len(records), size))
    covered = records[:size]
    if size > 0 and plane_id(records[0][1]) != cp["plane_id"]:
        raise Refused("checkpoint: another plane")
    head = covered[-1][0] if covered else ZERO
    if head != cp["head_hash"]:
        raise Refused("checkpoint: record %d's hash differs: rewritten" % size)
    root = "blake3:" + merkle_root([leaf(h) for h, _ in covered]).hex()
    if root != cp["merkle_root"]:
        raise Refused("checkpoint: the Merkle root differs: rewritten")
    if len(records) > size and not allow_tail:
        raise Refused("checkpoint: records %d to %d come after it: not proven"
                      % (size + 1, len(records)))
    return len(records) - size


def main(argv):
    args = argv[1:]
    options = {"--checkpoint": None, "--public-key": None, "--proof": None,
               "--old-checkpoint": None}
    allow_tail = False
    files = []
    while args:
        a = args.pop(0)
        if a in options and args:
            options[a] = args.pop(0)
        elif a == "--allow-unproven-tail":
            allow_tail = True
        elif a.startswith("-"):
            print("unknown option %s" % a)
            return 2
        else:
            files.append(a)
    if options["--proof"]:
        try:
            loaded = {}
            for name in ("--proof", "--checkpoint", "--old-checkpoint"):
                if options[name]:
                    with open(options[name], "rb") as f:
                        loaded[name] = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError) as e:
            print("cannot read: %s" % e)
            return 2
        if "--checkpoint" not in loaded:
            print("a proof is checked against --checkpoint")
            return 2
        try:
            check_proof(loaded["--proof"], loaded["--checkpoint"], loaded.get("--old-checkpoint"),
                        options["--public-key"])
        except Refused as e:
            print("refused: %s" % e)
            return 1
        print("proof verified")
        return 0
    if len(files) != 1:
        print(__doc__.strip())
        return 2
    try:
        with open(files[0], "rb") as f:
            data = f.read()
        cp = None
        if options["--checkpoint"]:
            with open(options["--checkpoint"], "rb") as f:
                cp = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        print("cannot read: %s" % e)
        return 2
    records, bad = verify(data)
    if bad is not None:
        print("refused at line %d: %s" % bad)
        return 1
    tail = 0
    if cp is not None:
        try:
            tail = check_checkpoint(records, cp, options["--public-key"], allow_tail)
        except Refused as e:
            print("refused: %s" % e)
            return 1
    print("intact: %d records%s" % (
        len(records),
        "" if cp is None else ", matching the checkpoint of %d (%d after it, unproven)"
        % (cp["size"], tail)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
