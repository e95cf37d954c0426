#!/usr/bin/env bash
# The outbox on the machine's NATS JetStream: records published per second while 64
# connections post durable commands to one `ro serve` (SQLite store), how far behind the bus
# is when the load stops, and the lag from a command's answer to its record's receipt from the
# bus (p50/p99, 500 commands one after another). Prints one JSON line per figure.
# Usage: benches/serve/nats.sh [SECONDS] (default 10). NATS: the server (default 127.0.0.1:4222).
set -euo pipefail
seconds=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ro="$root/target/release/ro"
[ -x "$ro" ] || cargo build --release -p ro-bindings --manifest-path "$root/Cargo.toml" >&2
nats=${NATS:-127.0.0.1:4222}
stream="RO_BENCH_$$"
subject="bench$$.journal"
dir=$(mktemp -d)
cleanup() {
  kill "$(cat "$dir/pid" 2>/dev/null)" 2>/dev/null || true
  python3 "$here/outbox_lag.py" "$nats" --delete-stream "$stream" || true
  rm -rf "$dir"
}
trap cleanup EXIT
store="$dir/bus.db"
"$ro" --store "$store" init --admin alice --posture unlocked >/dev/null
token=$("$ro" --store "$store" token issue alice --actor alice --reason "bus bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$ro" --store "$store" serve --listen 127.0.0.1:0 --tick-ms 0 --outbox "nats://$nats" \
  --outbox-stream "$stream" --outbox-subject "$subject" >"$dir/out" 2>"$dir/err" &
echo $! >"$dir/pid"
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.05; done
addr=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$dir/out")
published() { curl -s "http://$addr/metrics" | sed -n 's/^ro_outbox_published_seq \([0-9]*\)$/\1/p'; }
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"REPORT_COMPONENT","component":"feed","healthy":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"per_second":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.requests * 1e6 / summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
p0=$(published); t0=$(date +%s.%N)
load=$(wrk -t2 -c64 -d"${seconds}s" -s "$dir/post.lua" "http://$addr/v1/commands" | tail -1)
t1=$(date +%s.%N); p1=$(published)
behind=$(curl -s "http://$addr/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox"]["behind"])')
for _ in $(seq 600); do [ "$(curl -s "http://$addr/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["outbox"]["behind"])')" = 0 ] && break; sleep 0.05; done
t2=$(date +%s.%N); p2=$(published)
echo "{\"figure\":\"outbox: records published per second under 64 connections of durable commands\",\"result\":{\"load\":$load,\"published_during_load_per_second\":$(python3 -c "print(int(($p1 - $p0) / ($t1 - $t0)))"),\"behind_when_load_stopped\":$behind,\"caught_up_after_s\":$(python3 -c "print(round($t2 - $t1, 2))"),\"published\":$p2}}"
echo "{\"figure\":\"outbox: answer to receipt from the bus, 500 commands one after another\",\"result\":$(python3 "$here/outbox_lag.py" "$nats" "$subject" "$addr" "$token" 500)}"
