#!/usr/bin/env bash
# Opening a plane of 1M commands, with and without a snapshot: `ro status` (wall time and peak
# resident memory, GNU time), the restart of `ro serve` (until it answers, and until its check
# of every record is done), and bytes per event on disk. Two planes: an operations plane (nine
# in ten commands are component heartbeats over 100 components, one in ten registers an
# artifact: the state stays small) and an artifact registry (every command registers an
# artifact: the state grows with every event). Prints one JSON line per figure.
# Usage: benches/open-1m.sh [COMMANDS] (default 1000000).
set -euo pipefail
n=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ro="$root/target/release/ro"
[ -x "$ro" ] || cargo build --release -p ro-bindings --manifest-path "$root/Cargo.toml" >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 - "$n" "$dir" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
with open(f"{d}/ops.jsonl", "w") as ops, open(f"{d}/artifacts.jsonl", "w") as art:
    for i in range(n):
        artifact = '{"type":"REGISTER_ARTIFACT","ref":"runs/r-%d/report.json","digest":"blake3:%064x"}\n' % (i, i + 1)
        art.write(artifact)
        if i % 10 == 0:
            ops.write(artifact)
        else:
            ops.write('{"type":"REPORT_COMPONENT","component":"c-%d","healthy":%s,"fresh_for_ms":20000}\n'
                      % (i % 100, "true" if i % 7 else "false"))
PY

# `timed NAME CMD...`: one JSON line with the wall time and peak resident memory of CMD.
timed() {
    local name=$1
    shift
    /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >"${OUT:-$dir/stdout}"
    read -r secs kib <"$dir/time"
    printf '{"figure":"%s","seconds":%s,"max_rss_mib":%d}\n' "$name" "$secs" $((kib / 1024))
}

# `restart STORE NAME`: seconds from starting `ro serve` until it answers /health, and until
# its check of every record reports VERIFIED; its peak resident memory by then.
restart() {
    python3 - "$ro" "$1" "$2" <<'PY'
import json, subprocess, sys, time, urllib.request
ro, store, name = sys.argv[1:4]
start = time.monotonic()
p = subprocess.Popen([ro, "--store", store, "serve", "--listen", "127.0.0.1:0", "--tick-ms", "0"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
addr = json.loads(p.stdout.readline())["listening"]
answered = None
try:
    while True:
        try:
            body = json.load(urllib.request.urlopen(f"http://{addr}/health"))
        except Exception:
            body = None
        now = time.monotonic()
        if body is not None and answered is None:
            answered = now - start
        if body is not None and body.get("journal", {}).get("check") != "RUNNING":
            rss = int(open(f"/proc/{p.pid}/status").read().split("VmHWM:")[1].split()[0]) // 1024
            print(json.dumps({"figure": name, "answers_after_s": round(answered, 3),
                              "every_record_checked_after_s": round(now - start, 3),
                              "check": body["journal"]["check"], "peak_rss_mib": rss}))
            break
        time.sleep(0.002)
finally:
    p.terminate()
    p.wait()
PY
}

for plane in ops artifacts; do
    store="$dir/$plane.db"
    "$ro" --store "$store" init --admin alice >/dev/null
    OUT=/dev/null timed "$plane: ro apply of $n commands" "$ro" --store "$store" apply --actor alice "$dir/$plane.jsonl"
    head=$("$ro" --store "$store" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])')
    bytes=$(stat -c %s "$store")
    printf '{"figure":"%s: on disk","events":%d,"bytes_per_event":%d}\n' "$plane" "$head" $((bytes / head))
    timed "$plane: ro status, no snapshot (every record checked)" "$ro" --store "$store" status
    full=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state_digest"])' "$dir/stdout")
    restart "$store" "$plane: ro serve restart, no snapshot"
    timed "$plane: ro snapshot" "$ro" --store "$store" snapshot
    timed "$plane: ro status, from the snapshot" "$ro" --store "$store" status
    snap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["state_digest"])' "$dir/stdout")
    [ "$full" = "$snap" ] || { echo "state digests differ: $full $snap" >&2; exit 1; }
    restart "$store" "$plane: ro serve restart, from the snapshot"
    timed "$plane: ro verify (every record, every snapshot)" "$ro" --store "$store" verify
    rm -f "$store" "$store"-* "$store".*
done
