#!/usr/bin/env bash
# Load on `ro serve` over loopback, with wrk (Debian's package): the probes, durable commands
# from 64 connections, resident memory per record written, live-event fan-out, resident memory
# under a read load. Prints one JSON line per
# figure. Usage: benches/serve/load.sh [SECONDS] (default 10 per phase; MEMORY_SECONDS for the
# memory phase, default the same).
set -euo pipefail
seconds=${1:-10}
memory_seconds=${MEMORY_SECONDS:-$seconds}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ro="$root/target/release/ro"
[ -x "$ro" ] || cargo build --release -p ro-bindings --manifest-path "$root/Cargo.toml" >&2
dir=$(mktemp -d)
trap 'kill $(cat "$dir/pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"' EXIT
store="$dir/load.db"
"$ro" --store "$store" init --admin alice >/dev/null
"$ro" --store "$store" principal add ro-clock --kind service --role operator --actor alice --reason "the scheduler" >/dev/null
token=$("$ro" --store "$store" token issue alice --actor alice --reason "load test" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$ro" --store "$store" serve --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
echo $! >"$dir/pid"
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.05; done
addr=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$dir/out")
pid=$(cat "$dir/pid")

cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"type":"REPORT_COMPONENT","component":"feed","healthy":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%.2f,"errors":%d,"non2xx":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
sed -e '/^wrk.method/d' -e '/^wrk.body/d' -e '/Content-Type/d' "$dir/post.lua" >"$dir/get.lua"

probe=$(wrk -t2 -c64 -d"${seconds}s" -s "$dir/get.lua" "http://$addr/ops/status" | tail -1)
echo "{\"figure\":\"GET /ops/status, 64 connections\",\"result\":$probe}"

rss() { ps -o rss= -p "$pid" | tr -d ' '; }
head() { curl -s "http://$addr/ops/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["head_seq"])'; }
rss_before=$(rss); seq_before=$(head)
commands=$(wrk -t2 -c64 -d"${seconds}s" -s "$dir/post.lua" "http://$addr/v1/commands" | tail -1)
echo "{\"figure\":\"POST /v1/commands, 64 connections, one command each, durable\",\"result\":$commands}"
# The plane keeps its journal in memory: resident memory grows with the records written.
rss_after=$(rss); seq_after=$(head)
echo "{\"figure\":\"resident memory per record written\",\"result\":{\"records\":$((seq_after - seq_before)),\"kib_before\":$rss_before,\"kib_after\":$rss_after,\"bytes_per_record\":$(( (rss_after - rss_before) * 1024 / (seq_after - seq_before + 1) ))}}"

# Live-event subscribers during a lighter command load: each must receive every record.
head_before=$(head)
python3 "$here/sse_subscribers.py" "$addr" "$token" 100 "$head_before" >"$dir/sse" &
sse=$!
sleep 1
light=$(wrk -t1 -c8 -d"${seconds}s" -s "$dir/post.lua" "http://$addr/v1/commands" | tail -1)
head >"$dir/target"
wait $sse
echo "{\"figure\":\"100 SSE subscribers while 8 connections post commands\",\"result\":{\"sse\":$(cat "$dir/sse"),\"load\":$light}}"

# Resident memory under a read load (probes and queries; nothing written): flat.
start_rss=$(rss)
wrk -t1 -c32 -d"${memory_seconds}s" -s "$dir/get.lua" "http://$addr/v1/heartbeat" >/dev/null &
queries=$!
wrk -t1 -c32 -d"${memory_seconds}s" -s "$dir/get.lua" "http://$addr/ops/status" >/dev/null &
probes=$!
samples=()
end=$((SECONDS + memory_seconds))
while [ $SECONDS -lt $end ]; do samples+=("$(rss)"); sleep $(( memory_seconds / 10 > 0 ? memory_seconds / 10 : 1 )); done
wait "$queries" "$probes"
echo "{\"figure\":\"resident memory (KiB) under a read load, ${memory_seconds}s\",\"result\":{\"start\":$start_rss,\"samples\":[$(IFS=,; echo "${samples[*]}")],\"end\":$(rss)}}"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
