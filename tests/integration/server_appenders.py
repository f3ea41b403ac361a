"""server_appenders.py -- concurrent HTTP appenders against a running steled.

  server_appenders.py occ URL THREADS APPENDS
      THREADS clients each make APPENDS appends to one shared stream with an exact expected
      version, re-reading the stream after every 409. Checks that every 201 got a distinct
      version, that the stream holds exactly the acknowledged events, and that every 409 named
      the stream's real version. Any other answer fails.

  server_appenders.py load URL THREADS ACKFILE SEED [SECONDS]
      THREADS clients append (1..3 events each to one of 4 streams, client-chosen ids) until the
      server goes away, or for SECONDS; every 201 is recorded in ACKFILE (one JSON line per event,
      flushed at once) before the next request. Used around kill -9. The workload (event counts,
      streams, ids, data) of client k is drawn from random.Random(SEED * 1000 + k), so SEED
      replays it (the interleaving of the clients is the scheduler's). Any answer but 201 fails,
      and so does a lost connection when SECONDS is given (no kill then). The last line printed is
      "load: N acknowledged by K of T clients".

  server_appenders.py check URL ACKFILE
      Every recorded event is present at its stream, version and position with its id and data.
"""
import hashlib
import http.client
import json
import random
import sys
import threading
import time
import traceback
import uuid

from server_client import Checks, Client

mode, URL = sys.argv[1], sys.argv[2]
c = Checks()


def run_threads(fn, n, errors, lock):
    """Run fn(k) in n threads; an exception in one is recorded in errors, never lost."""
    def guarded(k):
        try:
            fn(k)
        except Exception:
            with lock:
                errors.append(("client %d raised" % k, traceback.format_exc()))

    ts = [threading.Thread(target=guarded, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


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

    run_threads(worker, threads, errors, lock)
    c.eq(errors, [], "no unexpected answers")
    versions = sorted(v for v, _, _ in results)
    c.eq(versions, list(range(threads * appends)), "every 201 got its own version, no gaps")
    cl = Client(URL)
    st, body = cl.request("GET", "/streams/counter-1?limit=10000")
    stored = {(e["version"], e["data"]["t"], e["data"]["n"]) for e in body["events"]}
    c.eq(stored, set(results), "the stream holds exactly the acknowledged events")
    cl.close()


def load(threads, ackfile, seed, seconds):
    out = open(ackfile, "a")
    lock = threading.Lock()
    errors = []
    acked = [0] * threads
    end = time.monotonic() + seconds if seconds else None

    def worker(k):
        rng = random.Random(seed * 1000 + k)
        cl = Client(URL, timeout=10)
        i = 0
        while end is None or time.monotonic() < end:
            n = rng.randint(1, 3)
            stream = "load-%d" % rng.randrange(4)
            events = [{"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": "Load",
                       "data": {"k": k, "i": i, "j": j, "r": rng.getrandbits(32)}}
                      for j in range(n)]
            try:
                st, body = cl.append(stream, events)
            except (OSError, http.client.HTTPException) as e:
                if end is not None:  # no kill in a timed run: a lost connection is a failure
                    with lock:
                        errors.append(("client %d: %r" % (k, e), ""))
                return  # the server was killed
            if st != 201:
                with lock:
                    errors.append(("client %d: status %d" % (k, st), body))
                return
            with lock:
                for j, e in enumerate(events):
                    out.write(json.dumps({
                        "stream": body["stream"], "version": body["first_version"] + j,
                        "position": body["first_position"] + j, "id": e["id"],
                        "hash": hashlib.sha256(json.dumps(e["data"]).encode()).hexdigest()}) + "\n")
                out.flush()
                acked[k] += n
            i += 1
        cl.close()

    run_threads(worker, threads, errors, lock)
    for what, detail in errors:
        print("load (seed %d): %s %s" % (seed, what, detail), file=sys.stderr)
    print("load: %d acknowledged by %d of %d clients" %
          (sum(acked), sum(1 for a in acked if a), threads))
    return 1 if errors else 0


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
    sys.exit(load(int(sys.argv[3]), sys.argv[4], int(sys.argv[5]),
                  float(sys.argv[6]) if len(sys.argv) > 6 else None))
else:
    check(sys.argv[3])
c.finish()
