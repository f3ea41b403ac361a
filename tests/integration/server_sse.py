"""server_sse.py URL -- Server-Sent Events checks against a running steled (started by
test_server_sse.sh with short heartbeat and slow-subscriber settings).

History then live with no gap and no duplicate while a writer appends; resume by Last-Event-ID;
from=end; one-stream and filtered subscriptions; many subscribers; heartbeats; a slow subscriber
dropped with a reason while writers go on unhindered.
"""
import sys
import threading
import time

from server_client import SSE, Checks, Client, wait_for

URL = sys.argv[1]
c = Checks()
cl = Client(URL)


def collect(sse, until_position, limit_s=20):
    """Events until the given position; returns (positions, caught_up_count, messages)."""
    positions, caught_up, msgs = [], 0, []
    deadline = time.time() + limit_s
    while time.time() < deadline:
        m = sse.next()
        if m is None:
            break
        if m["data"] is None:
            continue  # a comment alone (": heartbeat") is no event
        msgs.append(m)
        if m["event"] == "caught-up":
            caught_up += 1
        elif m["event"] == "message":
            positions.append(m["data"]["position"])
            c.ok(int(m["id"]) == m["data"]["position"], "id is the position")
            if m["data"]["position"] >= until_position:
                break
    return positions, caught_up, msgs


# --- history then live, no gap ---------------------------------------------------------------
for i in range(50):
    st, _ = cl.append("hist-%d" % (i % 5), [{"type": "H", "data": {"i": i}}])
    c.eq(st, 201, "history append")

sse = SSE(URL, "/subscribe?from=1")


def writer():
    w = Client(URL)
    for i in range(200):
        w.append("live-%d" % (i % 7), [{"type": "L", "data": {"i": i}}])
    w.close()


t = threading.Thread(target=writer)
t.start()
positions, caught_up, _ = collect(sse, 250)
t.join()
c.eq(sse.status, 200, "subscribe status")
c.eq(positions, list(range(1, 251)), "history then live: every position once, in order")
c.eq(caught_up, 1, "one caught-up signal")
sse.close()

# --- resume by Last-Event-ID ---------------------------------------------------------------------
sse = SSE(URL, "/subscribe?from=1", headers={"Last-Event-ID": "100"})
positions, caught_up, msgs = collect(sse, 250)
c.eq(positions, list(range(101, 251)), "Last-Event-ID resumes after it")
sse.close()

# --- from=end: only new events ------------------------------------------------------------------
sse = SSE(URL, "/subscribe?from=end")
m = sse.next()
c.eq(m["event"], "caught-up", "from=end is caught up at once")
cl.append("end-1", [{"type": "E"}])
m = sse.next()
c.eq(m["data"]["position"], 251, "from=end delivers the next event")
sse.close()

# --- one stream, and filters -------------------------------------------------------------------
sse = SSE(URL, "/subscribe?stream=hist-2")
got = []
while True:
    m = sse.next()
    if m["event"] == "caught-up":
        break
    got.append((m["data"]["stream"], m["data"]["version"]))
c.eq(got, [("hist-2", v) for v in range(10)], "stream subscription: its events in version order")
cl.append("hist-2", [{"type": "H2"}])
m = sse.next()
c.eq((m["data"]["stream"], m["data"]["version"]), ("hist-2", 10), "stream subscription goes live")
sse.close()

sse = SSE(URL, "/subscribe?category=live&type=L")
n = 0
while True:
    m = sse.next()
    if m["event"] == "caught-up":
        break
    c.ok(m["data"]["stream"].startswith("live-") and m["data"]["type"] == "L", "filtered event")
    n += 1
c.eq(n, 200, "filtered history count")
sse.close()

st, body = cl.request("GET", "/subscribe?stream=a&type=X")
c.eq(st, 400, "stream plus filters is a bad request")
st, body = cl.request("GET", "/subscribe?from=abc")
c.eq(st, 400, "bad from")

# --- many subscribers ----------------------------------------------------------------------------
subs = [SSE(URL, "/subscribe?from=end&prefix=many-") for _ in range(100)]
for s in subs:
    m = s.next()
    c.ok(m is not None and m["event"] == "caught-up", "subscriber caught up")
head = 253
for i in range(20):
    cl.append("many-%d" % (i % 3), [{"type": "M", "data": {"i": i}}])
for s in subs:
    got = []
    while len(got) < 20:
        m = s.next()
        if m is None:
            break
        if m["event"] == "message":
            got.append(m["data"]["data"]["i"])
    c.eq(got, list(range(20)), "each of 100 subscribers gets all 20 live events")
    s.close()

# --- heartbeats ----------------------------------------------------------------------------------
sse = SSE(URL, "/subscribe?from=end&stream=quiet-1")
m = sse.next()
c.eq(m["event"], "caught-up", "quiet stream caught up")
m = sse.next()
c.eq(m["comment"], "heartbeat", "an idle stream gets heartbeats")
sse.close()

# --- a slow subscriber is dropped; writers are not held up --------------------------------------
slow = SSE(URL, "/subscribe?from=1", rcvbuf=4096)
blob = "x" * 100000
t0 = time.time()
for i in range(120):  # 12 MB: more than the socket buffers and the server's bound together
    st, _ = cl.append("bulk-%d" % (i % 4), [{"type": "Bulk", "data": {"blob": blob}}])
    c.ok(st == 201, "bulk append while a subscriber is slow")
c.ok(time.time() - t0 < 30, "writers are not held up by a slow subscriber")


def subscribers():
    st, text = cl.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith("stele_subscribers "):
            return int(line.split()[1])
    return -1


c.ok(wait_for(lambda: subscribers() == 0, timeout=15), "the slow subscriber is dropped",
     "subscribers=%d" % subscribers())
last = None
while True:
    m = slow.next()
    if m is None:
        break
    last = m
c.ok(last is not None and last["event"] == "dropped", "the stream ends with event: dropped",
     repr(last))
c.ok("slow consumer" in last["data"]["reason"], "the reason names a slow consumer")
slow.close()

# A fast subscriber after all that still gets everything.
sse = SSE(URL, "/subscribe?from=1")
st, info = cl.request("GET", "/info")
positions, caught_up, _ = collect(sse, info["head_position"], limit_s=30)
c.eq(positions, list(range(1, info["head_position"] + 1)), "a fast reader gets the whole log")
sse.close()
cl.close()
c.finish()
