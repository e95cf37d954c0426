"""N live-event subscribers from seq AFTER; each reads until it has seen every record up to the
head the load script writes to a file beside its output (or 120 s pass). Prints one JSON
object: how many subscribers received every record, exactly once and in order.
Usage: sse_subscribers.py ADDR TOKEN N AFTER > DIR/sse (the head goes to DIR/target)."""
import json, socket, sys, threading, time, os

addr, token, n, after = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
host, port = addr.rsplit(":", 1)
results = [None] * n

def run(i, target_path):
    s = socket.create_connection((host, int(port)))
    s.settimeout(5)
    s.sendall(f"GET /v1/events?after={after} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    buf = b""
    expected = after + 1
    in_order = True
    deadline = time.time() + 120
    goal = None
    while time.time() < deadline:
        if goal is None and os.path.exists(target_path):
            try:
                goal = int(open(target_path).read().strip())
            except ValueError:
                pass
        if goal is not None and expected > goal:
            break
        try:
            chunk = s.recv(1 << 16)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while b"\nid: " in buf or buf.startswith(b"id: "):
            start = buf.find(b"id: ")
            end = buf.find(b"\n", start)
            if end < 0:
                break
            seq = int(buf[start + 4:end])
            if seq != expected:
                in_order = False
            expected = seq + 1
            buf = buf[end:]
    s.close()
    results[i] = (in_order, expected - 1)

# The load script writes the final head to `target` beside this process's output file.
target_path = os.path.join(os.path.dirname(os.readlink("/proc/self/fd/1")), "target")
threads = [threading.Thread(target=run, args=(i, target_path)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
goal = int(open(target_path).read().strip())
complete = sum(1 for ok, last in results if ok and last >= goal)
print(json.dumps({"subscribers": n, "received_every_record_in_order": complete, "records": goal - after}))
