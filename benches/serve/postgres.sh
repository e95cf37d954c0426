#!/usr/bin/env bash
# The shared store on the machine's PostgreSQL, beside the SQLite file in the same run: durable
# commands/s through one `ro serve` (64 connections, one command per request, wrk), pgbench's
# insert rate into a table of the journal's shape at the same durability (the physical
# reference: one row per transaction, and 100 rows per transaction), and the catch-up from a
# commit on host A to its event on host B. Prints one JSON line per figure.
# Usage: benches/serve/postgres.sh [SECONDS] (default 10). PGURL: the server (default
# postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
seconds=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ro="$root/target/release/ro"
[ -x "$ro" ] || cargo build --release -p ro-bindings --manifest-path "$root/Cargo.toml" >&2
admin=${PGURL:-postgres://postgres@127.0.0.1:5432/test}
db="ro_bench_$$"
url="${admin%/*}/$db"
dir=$(mktemp -d)
cleanup() {
  [ -f "$dir/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$dir/pids"
  sleep 0.5
  psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
export RO_KEY_FILE="$dir/keys"

# A plane on STORE, alice's token on stdout.
setup() {
  "$ro" --store "$1" init --admin alice --posture unlocked >/dev/null
  "$ro" --store "$1" principal add ro-clock --kind service --role operator --actor alice --reason "the scheduler" >/dev/null
  "$ro" --store "$1" token issue alice --actor alice --reason "load test" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
# Starts a server on STORE; its address on stdout.
start() {
  local out="$dir/serve.$RANDOM"
  "$ro" --store "$1" serve --listen 127.0.0.1:0 --tick-ms 0 >"$out" 2>"$out.err" &
  echo $! >>"$dir/pids"
  for _ in $(seq 100); do grep -q listening "$out" 2>/dev/null && break; sleep 0.05; done
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$out"
}
post_lua() {
  cat <<LUA
wrk.method = "POST"
wrk.body = '{"type":"REPORT_COMPONENT","component":"feed","healthy":true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $1"
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%.2f,"errors":%d,"non2xx":%d,"per_second":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests * 1e6 / summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
}

for engine in sqlite postgres; do
  if [ "$engine" = sqlite ]; then store="$dir/load.db"; else store="$url?plane=load"; fi
  token=$(RO_KEY_FILE="$dir/$engine.keys" setup "$store")
  addr=$(RO_KEY_FILE="$dir/$engine.keys" start "$store")
  post_lua "$token" >"$dir/post.lua"
  result=$(wrk -t2 -c64 -d"${seconds}s" -s "$dir/post.lua" "http://$addr/v1/commands" | tail -1)
  echo "{\"figure\":\"POST /v1/commands through one host, 64 connections, durable, $engine\",\"result\":$result}"
done

# pgbench into a table of the journal's shape (no trigger), synchronous_commit on.
psql "$url" -qc "CREATE TABLE bench_journal (plane text NOT NULL, seq bigserial, prev bytea NOT NULL, hash bytea NOT NULL, body bytea NOT NULL, PRIMARY KEY (plane, seq))"
for rows in 1 100; do
  echo "INSERT INTO bench_journal (plane, prev, hash, body) SELECT 'p', '\\x$(printf '0%.0s' $(seq 64))', '\\x$(printf '1%.0s' $(seq 64))', decode(repeat('61', 480), 'hex') FROM generate_series(1, $rows);" >"$dir/insert.sql"
  tps=$(pgbench -n -c 8 -j 2 -T "$seconds" -f "$dir/insert.sql" "$url" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "{\"figure\":\"pgbench: $rows row(s) of 560 B per transaction, 8 clients\",\"result\":{\"transactions_per_second\":$tps,\"rows_per_second\":$(python3 -c "print(int($tps * $rows))")}}"
done

# Catch-up: a commit on A, its event folded and streamed on B.
token=$(RO_KEY_FILE="$dir/postgres.keys" "$ro" --store "$url?plane=load" token issue alice --actor alice --reason "catch-up" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
a=$(RO_KEY_FILE="$dir/postgres.keys" start "$url?plane=load")
b=$(RO_KEY_FILE="$dir/postgres.keys" start "$url?plane=load")
echo "{\"figure\":\"catch-up, commit on host A to its event on host B's stream\",\"result\":$(python3 "$here/catchup.py" "$a" "$b" "$token" 500)}"
