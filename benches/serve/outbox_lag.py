"""The outbox's lag: subscribes to the outbox's subject on NATS (plain NATS protocol over a
socket), posts N commands one after another to `ro serve`, and for each takes the time from
the command's answer (durable) to the record's receipt from the bus. Prints one JSON object
with p50/p99/max in milliseconds. With --delete-stream NAME it deletes that JetStream stream
and exits.
Usage: outbox_lag.py NATS_ADDR SUBJECT RO_ADDR TOKEN N | outbox_lag.py NATS_ADDR --delete-stream NAME"""
import http.client, json, socket, sys, threading, time

nats = sys.argv[1]
host, port = nats.rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.recv(4096)  # INFO
s.sendall(b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n')
if sys.argv[2] == "--delete-stream":
    s.sendall(f"SUB _INBOX.del 1\r\nPUB $JS.API.STREAM.DELETE.{sys.argv[3]} _INBOX.del 0\r\n\r\n".encode())
    s.settimeout(5)
    try:
        s.recv(4096)
    except socket.timeout:
        pass
    sys.exit(0)
subject, ro, token, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s.sendall(f"SUB {subject} 1\r\nPING\r\n".encode())
received = {}
done = threading.Event()

def follow():
    buf = b""
    s.settimeout(0.5)
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
            end = buf.find(b"\r\n")
            if end < 0:
                break
            line = buf[:end].split()
            if not line:
                buf = buf[end + 2:]
                continue
            if line[0] in (b"MSG", b"HMSG"):
                total = int(line[-1])
                if len(buf) < end + 2 + total + 2:
                    break
                body = buf[end + 2:end + 2 + total]
                if line[0] == b"HMSG":
                    body = body[int(line[-2]):]
                received.setdefault(json.loads(body)["seq"], now)
                buf = buf[end + 2 + total + 2:]
            else:
                if line[0] == b"PING":
                    s.sendall(b"PONG\r\n")
                buf = buf[end + 2:]

t = threading.Thread(target=follow)
t.start()
time.sleep(0.3)
rhost, rport = ro.rsplit(":", 1)
conn = http.client.HTTPConnection(rhost, int(rport))
answered = {}
for i in range(n):
    body = json.dumps({"type": "REPORT_COMPONENT", "component": f"lag-{i}", "healthy": True})
    conn.request("POST", "/v1/commands", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    reply = json.loads(conn.getresponse().read())
    answered[reply["events"][0]["seq"]] = time.monotonic()
    time.sleep(0.002)
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not all(q in received for q in answered):
    time.sleep(0.05)
done.set()
t.join()
lat = sorted(max(0.0, received[q] - at) * 1000 for q, at in answered.items() if q in received)
pick = lambda x: round(lat[min(len(lat) - 1, int(x * len(lat)))], 2)
print(json.dumps({"commands": n, "received": len(lat), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(lat[-1], 2)}))
