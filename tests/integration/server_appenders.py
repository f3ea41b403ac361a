"""server_appenders.py -- concurrent HTTP appenders against a running steled.

  server_appenders.py occ URL THREADS APPENDS
      THREADS clients each make APPENDS appends to one shared stream with an exact expected
      version, re-reading the stream after every 409. Checks that every 201 got a distinct
      version, that the stream holds exactly the acknowledged events, and that every 409 named
      the stream's real version.

  server_appenders.py load URL THREADS ACKFILE
      THREADS clients append (1..3 events each, client-chosen ids) until the server goes away;
      every 201 is recorded in ACKFILE (one JSON line per event, flushed at once) before the next
      request. Used around kill -9.

  server_appenders.py check URL ACKFILE
      Every recorded event is present at its stream, version and position with its id and data.
"""
import hashlib
import json
import sys
import threading
import uuid

from server_client import Checks, Client

mode, URL = sys.argv[1], sys.argv[2]
c = Checks()


def occ(threads, appends):
    results, errors = [], []
    lock = threading.Lock()

    def worker(k):
        cl = Client(URL)
        known = -1  # we start as if the stream were empty
        done = 0
        while done < appends:
            expected = "no_stream" if known < 0 else known
            st, body = cl.append("counter-1", [{"type": "Inc", "data": {"t": k, "n": done}}],
                                 expected)
            if st == 201:
                with lock:
                    results.append((body["first_version"], k, done))
                known = body["last_version"]
                done += 1
            elif st == 409:
                st2, info = cl.request("GET", "/streams/counter-1/info")
                if body.get("actual") is None or st2 != 200 or \
                        body["actual"] > info["last_version"]:
                    with lock:
                        errors.append(("bad 409", body, info))
                known = info["last_version"]
            else:
                with lock:
                    errors.append((st, body))
                return
        cl.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    c.eq(errors, [], "no unexpected answers")
    versions = sorted(v for v, _, _ in results)
    c.eq(versions, list(range(threads * appends)), "every 201 got its own version, no gaps")
    cl = Client(URL)
    st, body = cl.request("GET", "/streams/counter-1?limit=10000")
    stored = {(e["version"], e["data"]["t"], e["data"]["n"]) for e in body["events"]}
    c.eq(stored, set(results), "the stream holds exactly the acknowledged events")
    cl.close()


def load(threads, ackfile):
    out = open(ackfile, "a")
    lock = threading.Lock()

    def worker(k):
        cl = Client(URL, timeout=10)
        i = 0
        while True:
            n = 1 + i % 3
            events = [{"id": str(uuid.uuid4()), "type": "Load",
                       "data": {"k": k, "i": i, "j": j}} for j in range(n)]
            try:
                st, body = cl.append("load-%d" % (k % 4), events)
            except OSError:
                return
            if st != 201:
                return
            with lock:
                for j, e in enumerate(events):
                    out.write(json.dumps({
                        "stream": body["stream"], "version": body["first_version"] + j,
                        "position": body["first_position"] + j, "id": e["id"],
                        "hash": hashlib.sha256(json.dumps(e["data"]).encode()).hexdigest()}) + "\n")
                out.flush()
            i += 1

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def check(ackfile):
    acked = [json.loads(line) for line in open(ackfile) if line.endswith("\n")]
    cl = Client(URL)
    by_pos = {}
    pos = 1
    while True:
        st, body = cl.request("GET", "/all?from=%d&limit=10000" % pos)
        c.ok(st == 200, "read /all")
        if not body["events"]:
            break
        for e in body["events"]:
            by_pos[e["position"]] = e
        pos = body["events"][-1]["position"] + 1
    c.eq(sorted(by_pos), list(range(1, len(by_pos) + 1)), "positions are gap-free")
    lost = 0
    for a in acked:
        e = by_pos.get(a["position"])
        good = e is not None and e["stream"] == a["stream"] and e["version"] == a["version"] \
            and e["id"] == a["id"] and \
            hashlib.sha256(json.dumps(e["data"]).encode()).hexdigest() == a["hash"]
        if not good:
            lost += 1
    c.eq(lost, 0, "every acknowledged event is present, unchanged (%d checked)" % len(acked))
    print("checked %d acknowledged events, head %d" % (len(acked), len(by_pos)), file=sys.stderr)
    cl.close()


if mode == "occ":
    occ(int(sys.argv[3]), int(sys.argv[4]))
elif mode == "load":
    load(int(sys.argv[3]), sys.argv[4])
    sys.exit(0)
else:
    check(sys.argv[3])
c.finish()
