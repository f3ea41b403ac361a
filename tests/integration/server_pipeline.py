"""server_pipeline.py URL PID -- a client that pipelines many large requests and never reads the
answers cannot make steled buffer without bound (test_server_bounds.sh starts it with
--output-buffer-bytes 262144).

The store gets EVENTS + REQUESTS events of about 1 KiB; one connection then sends REQUESTS pipelined
`GET /all?from=i&limit=EVENTS` (each answer about 2.3 MB: 230 MB in all if the server answered
them all into memory) and reads nothing. While it waits: the server's resident memory (VmRSS of
PID) stays within a bound far below that, /metrics shows the connection paused with at most one
answer beyond the bound held for it, and other clients are served (health, appends, reads). Then
the client reads: every answer arrives complete and in order.
"""
import json
import socket
import sys
import time
import urllib.parse

from server_client import Checks, Client, Reader, wait_for

URL, PID = sys.argv[1], int(sys.argv[2])
u = urllib.parse.urlsplit(URL)
c = Checks()
cl = Client(URL)

EVENTS = 2000
REQUESTS = 100
BOUND = 262144


def rss_bytes():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % PID)


def metric(name):
    st, text = cl.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise RuntimeError("no metric " + name)


blob = "x" * 1000
for i in range(0, EVENTS + REQUESTS, 100):  # every answer lies within what is there now
    st, _ = cl.append("pipe-%d" % (i // 100), [{"type": "P", "data": {"i": i + k, "blob": blob}}
                                               for k in range(100)])
    c.eq(st, 201, "fill append")
st, one = cl.request("GET", "/all?from=1&limit=%d" % EVENTS)
answer_bytes = len(json.dumps(one))
c.ok(answer_bytes * REQUESTS > 100 * 1024 * 1024,
     "the pipelined answers add up to more than 100 MB", str(answer_bytes))
rss_before = rss_bytes()

s = socket.create_connection((u.hostname, u.port), timeout=30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
reqs = b"".join(b"GET /all?from=%d&limit=%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i + 1, EVENTS)
                for i in range(REQUESTS))
s.sendall(reqs)

c.ok(wait_for(lambda: metric("stele_connections_output_paused") == 1, timeout=20),
     "the connection that does not read is paused")
peak = 0
for _ in range(20):  # a second: the server must not go on answering into memory meanwhile
    peak = max(peak, rss_bytes())
    time.sleep(0.05)
held = metric("stele_connection_output_max_bytes")
c.ok(held <= BOUND + answer_bytes + 4096, "output held for the connection <= bound + one answer",
     "held %d, bound %d, answer %d" % (held, BOUND, answer_bytes))
c.ok(metric("stele_connection_output_bytes") >= held, "total output counts it")
# Without the bound the server held every answer: REQUESTS x answer_bytes (230 MB). With it, one
# or two answers (and their JSON being built) besides the memory the server had before.
grown = peak - rss_before
c.ok(grown < 48 * 1024 * 1024, "the server's RSS stays bounded while the client does not read",
     "grew %d bytes (before %d, peak %d)" % (grown, rss_before, peak))

# Other clients are served meanwhile.
other = Client(URL)
st, body = other.request("GET", "/health")
c.eq(st, 200, "health while a connection is paused")
st, body = other.append("pipe-other", [{"type": "O"}])
c.eq(st, 201, "an append while a connection is paused")
st, body = other.request("GET", "/all?from=1&limit=3")
c.eq((st, [e["position"] for e in body["events"]]), (200, [1, 2, 3]), "a read meanwhile")
other.close()

# Now read everything: every answer whole and in order.
r = Reader(s)
for i in range(REQUESTS):
    resp = r.response()
    c.ok(resp is not None, "answer %d arrives" % (i + 1))
    st, h, b = resp
    events = json.loads(b)["events"]
    c.ok(st == 200 and len(events) == EVENTS and events[0]["position"] == i + 1 and
         events[-1]["position"] == i + EVENTS, "answer %d whole and in order" % (i + 1),
         "status %d, %d events, first %s" % (st, len(events), events[0]["position"] if events
                                              else None))
s.close()
c.ok(wait_for(lambda: metric("stele_connections_output_paused") == 0), "nothing paused after")
cl.close()
c.finish()
