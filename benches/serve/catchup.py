"""Catch-up between hosts of one PostgreSQL plane: posts N commands one after another to host
A and reads host B's live events; for each, the time from A's answer (the commit is durable)
to the event's arrival on B (folded there, then streamed). Prints one JSON object with p50,
p99 and max in milliseconds.
Usage: catchup.py ADDR_A ADDR_B TOKEN N"""
import http.client, json, socket, sys, threading, time

a, b, token, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
arrived = {}
done = threading.Event()

def follow():
    host, port = b.rsplit(":", 1)
    s = socket.create_connection((host, int(port)))
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: {b}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    s.settimeout(0.5)
    buf = b""
    while not done.is_set():
        try:
            chunk = s.recv(1 << 16)
        except socket.timeout:
            continue
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while True:
            start = buf.find(b"id: ")
            end = buf.find(b"\n", start) if start >= 0 else -1
            if start < 0 or end < 0:
                break
            arrived.setdefault(int(buf[start + 4:end]), now)
            buf = buf[end:]
    s.close()

t = threading.Thread(target=follow)
t.start()
time.sleep(0.5)
host, port = a.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
answered = {}
for i in range(n):
    body = json.dumps({"type": "REPORT_COMPONENT", "component": f"catchup-{i}", "healthy": True})
    conn.request("POST", "/v1/commands", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    reply = json.loads(conn.getresponse().read())
    answered[reply["events"][0]["seq"]] = time.monotonic()
    time.sleep(0.002)
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not all(s in arrived for s in answered):
    time.sleep(0.05)
done.set()
t.join()
lat = sorted(max(0.0, arrived[s] - at) * 1000 for s, at in answered.items() if s in arrived)
pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 2)
print(json.dumps({"commands": n, "arrived": len(lat), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": round(lat[-1], 2)}))
