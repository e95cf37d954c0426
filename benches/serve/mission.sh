#!/usr/bin/env bash
# Mission control under load: 50 watched services (small python status servers on loopback,
# polled every second), GET /v1/mission-control from 32 connections for SECONDS with wrk.
# Prints one JSON line. Usage: benches/serve/mission.sh [SECONDS] (default 10).
set -euo pipefail
seconds=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ro="$root/target/release/ro"
[ -x "$ro" ] || cargo build --release -p ro-bindings --manifest-path "$root/Cargo.toml" >&2
dir=$(mktemp -d)
cleanup() { kill $(cat "$dir"/pids 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
# 50 status servers in one python process, one port each.
python3 - "$dir/ports" <<'PY' &
import http.server, socketserver, sys, threading, json
body = json.dumps({"status": {"state": "OK", "reason_codes": []}, "marketdata": {"is_fresh": True}}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
ports = []
for _ in range(50):
    s = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H); ports.append(s.server_address[1])
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(sys.argv[1], "w").write(" ".join(map(str, ports)))
threading.Event().wait()
PY
echo $! >>"$dir/pids"
for _ in $(seq 100); do [ -s "$dir/ports" ] && break; sleep 0.05; done
python3 -c '
import json, sys
ports = open(sys.argv[1]).read().split()
print(json.dumps({"every_ms": 1000, "timeout_ms": 500, "confirm": 2,
  "services": [{"name": f"svc-{i}", "url": f"http://127.0.0.1:{p}"} for i, p in enumerate(ports)]}))' "$dir/ports" >"$dir/services.json"
store="$dir/mc.db"
"$ro" --store "$store" init --admin alice --posture unlocked >/dev/null
"$ro" --store "$store" principal add ro-clock --kind service --role operator --actor alice --reason "the host" >/dev/null
token=$("$ro" --store "$store" token issue alice --actor alice --reason "bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$ro" --store "$store" serve --listen 127.0.0.1:0 --tick-ms 0 --services "$dir/services.json" >"$dir/out" 2>"$dir/err" &
echo $! >>"$dir/pids"
for _ in $(seq 100); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.05; done
addr=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$dir/out")
sleep 3
cat >"$dir/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%d,"per_second":%d,"p50_ms":%.3f,"p99_ms":%.3f,"non2xx":%d}\n',
    summary.requests, summary.requests * 1e6 / summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status))
end
LUA
services=$(curl -s -H "Authorization: Bearer $token" "http://$addr/v1/mission-control" | python3 -c 'import json,sys; s=json.load(sys.stdin)["services"]; print(sum(1 for x in s if x["state"]=="OK"))')
result=$(wrk -t2 -c32 -d"${seconds}s" -s "$dir/get.lua" "http://$addr/v1/mission-control" | tail -1)
echo "{\"figure\":\"GET /v1/mission-control, 50 services watched every second, 32 connections\",\"result\":{\"services_ok\":$services,\"load\":$result}}"
