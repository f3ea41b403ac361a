"""server_subscribers.py URL EVENTS SUBSCRIBERS -- subscriptions whose filter matches nothing do
not stall the server (test_server_bounds.sh).

The log gets EVENTS events; SUBSCRIBERS clients then subscribe from the start with a filter that
matches nothing, so each has the whole log to scan. While they scan: appends are acknowledged and
/health answers, and they are answered while those subscribers are still catching up (before,
the loop scanned the whole log for every subscriber before answering anything else); a matching
subscriber gets every new event once, in order. In the end every subscriber catches up, having
received no event.
"""
import resource
import sys
import urllib.parse

from server_client import SSE, Checks, Client, wait_for

URL = sys.argv[1]
EVENTS, SUBSCRIBERS = int(sys.argv[2]), int(sys.argv[3])
LIVE = 100
c = Checks()
cl = Client(URL, timeout=120)

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = SUBSCRIBERS + 100
if soft < want:
    if hard != resource.RLIM_INFINITY and hard < want:
        print("FAIL: this test needs %d descriptors; the hard limit is %d" % (want, hard))
        raise SystemExit(1)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def metric(name):
    st, text = cl.request("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise RuntimeError("no metric " + name)


BATCH = 2000
for i in range(0, EVENTS, BATCH):
    st, _ = cl.append("fill-%d" % (i // BATCH % 10), [{"type": "Fill"}] * BATCH)
    c.ok(st == 201, "fill append")
st, info = cl.request("GET", "/info")
head = info["head_position"]
c.eq(head, EVENTS, "the log holds the events")

subs = [SSE(URL, "/subscribe?type=Nope", timeout=120) for _ in range(SUBSCRIBERS)]
c.ok(wait_for(lambda: metric("stele_subscribers") == SUBSCRIBERS, timeout=60),
     "every subscriber is open")
live = SSE(URL, "/subscribe?type=Live&from=%d" % (head + 1), timeout=120)
m = live.next(True)
c.eq(m["event"], "caught-up", "the matching subscriber starts at the head")

interleaved = None
for i in range(LIVE):
    st, body = cl.append("live-%d" % (i % 3), [{"type": "Live", "data": {"i": i}}])
    c.ok(st == 201, "append %d acknowledged while %d subscribers scan" % (i, SUBSCRIBERS))
    if interleaved is None:
        # Not a timing: the order of work. Before, the loop scanned the log for every subscriber
        # in one callback, so no append was answered before they had all caught up.
        interleaved = metric("stele_subscribers_catching_up")
        c.ok(interleaved > 0, "an append is answered while subscribers are still catching up",
             "catching up: %d" % interleaved)
    st, body = cl.request("GET", "/health")
    c.eq((st, body), (200, {"status": "ok"}), "health while subscribers scan")

got = []
while len(got) < LIVE:
    m = live.next(True)
    c.ok(m is not None and m["event"] == "message", "the matching subscriber gets an event",
         repr(m))
    got.append((m["data"]["position"], m["data"]["data"]["i"]))
c.eq(got, [(head + 1 + i, i) for i in range(LIVE)],
     "the matching subscriber gets every new event once, in order")
live.close()

c.ok(wait_for(lambda: metric("stele_subscribers_catching_up") == 0, timeout=300),
     "every subscriber catches up in the end")
for s in subs:
    m = s.next(True)
    c.ok(s.status == 200 and m is not None and m["event"] == "caught-up" and
         m["data"]["position"] == head + LIVE, "a non-matching subscriber: only caught-up",
         repr(m))
    s.close()
cl.close()
c.finish()
