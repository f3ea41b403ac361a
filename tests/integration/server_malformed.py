"""server_malformed.py URL PID SEED [COUNT] -- a malformed-request suite against a running steled.

At least COUNT (default 10000) requests over raw sockets: broken HTTP (request lines, headers,
chunked framing, lengths), bad JSON bodies (truncations and byte mutations of valid ones, wrong
types, deep nesting), huge bodies and headers, bad UTF-8, invalid stream names. Every request must
be answered 4xx or have its connection closed (never 2xx or 5xx), nothing may be appended (the
head position is unchanged), the server must stay up, and its RSS must stay bounded.
Random choices come from SEED (printed), so a failure replays with the same seed.
"""
import json
import random
import socket
import sys
import threading
import traceback
import urllib.parse

from server_client import Checks, Client

URL, PID, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
COUNT = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
u = urllib.parse.urlsplit(URL)
HOST, PORT = u.hostname, u.port
rng = random.Random(SEED)
print("seed %d" % SEED, file=sys.stderr)
c = Checks()


def rss_kb():
    for line in open("/proc/%d/status" % PID):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def post(path, body, ctype="application/json", extra=b""):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        path, ctype, len(body))
    return head.encode("latin-1", "replace") + extra + b"\r\n" + body


VALID = '{"expected_version":"any","events":[{"type":"T","data":{"a":[1,2,{"b":"c"}]},' \
        '"metadata":{"m":1},"id":"11111111-2222-4333-8444-555555555555"}]}'
VALID_COMMIT = '{"parts":[{"stream":"s-1","expected_version":0,"events":[{"type":"T"}]}]}'


def json_accepts(b):
    try:
        json.loads(b)
        return True
    except (ValueError, UnicodeDecodeError):
        return False


def broken_http():
    reqs = [
        b"GARBAGE\r\n\r\n", b"\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
        b"GET /health HTTP/1.1\r\nNoColonHeader\r\n\r\n", b"GET /health\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n5\r\n{\"ev\r\n",
        b"GET /\x00health HTTP/1.1\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET http://[::1 HTTP/1.1\r\n\r\n", b"GET /streams/%zz HTTP/1.1\r\n\r\n",
        b"BREW /streams/s-1 HTTP/1.1\r\n\r\n", b"PATCH /streams/s-1 HTTP/1.1\r\n\r\n",
        b"GET /streams/s-1 HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n",
        b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
        b"POST /streams/s-1 HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{\"events\":",
    ]
    reqs.append(b"".join(b"H%d: v\r\n" % i for i in range(5000)).join(
        [b"GET /nope HTTP/1.1\r\n", b"\r\n"]))
    while len(reqs) < 1500:
        n = rng.randint(1, 300)
        junk = bytes(rng.randrange(256) for _ in range(n))
        kind = rng.randrange(3)
        if kind == 0:
            reqs.append(junk)
        elif kind == 1:
            reqs.append(b"POST /streams/s-1 HTTP/1.1\r\n" + junk + b"\r\n\r\n")
        else:
            reqs.append(junk + b" /streams/s-1 HTTP/1.1\r\n\r\n")
    return reqs


def bad_json():
    reqs = []
    for base, path in ((VALID, "/streams/s-1"), (VALID_COMMIT, "/commits")):
        for cut in range(len(base)):  # every truncation
            reqs.append(post(path, base[:cut]))
    while len(reqs) < 5000:
        base, path = (VALID, "/streams/s-1") if rng.random() < 0.7 else (VALID_COMMIT, "/commits")
        b = bytearray(base.encode())
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(3)
            i = rng.randrange(len(b))
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                del b[i]
            else:
                b.insert(i, rng.choice(b'{}[]",:\\\x00\xff0aeE-+.'))
        if json_accepts(bytes(b)):
            continue  # may be a valid request: only invalid JSON here
        reqs.append(post(path, bytes(b)))
    wrong = [
        '[]', '"x"', '1', 'null', '{}', '{"events":{}}', '{"events":[1]}', '{"events":[[]]}',
        '{"events":[{"type":1}]}', '{"events":[{"type":null}]}', '{"events":[{"type":"T","id":5}]}',
        '{"events":[{"type":"T","metadata":"m"}]}', '{"events":[{"type":"T","content":"x"}]}',
        '{"events":[{"type":"T","data":1,"content":"binary"}]}', '{"expected_version":-1,"events":[{"type":"T"}]}',
        '{"expected_version":1.5,"events":[{"type":"T"}]}', '{"expected_version":"NO","events":[{"type":"T"}]}',
        '{"events":[{"type":"T"}],"events":[{"type":"T"}]}', '{"events":[{"type":"T\\u0000x"}]}',
        '{"events":[{"type":"' + "t" * 256 + '"}]}', '{"events":[{"type":"a\\tb"}]}',
        '{"parts":{}}', '{"parts":[{"events":[{"type":"T"}]}]}', '{"parts":[{"stream":1,"events":[]}]}',
        '{"parts":[{"stream":"a-1","events":[{"type":"T"}]},{"stream":"a-1","events":[{"type":"T"}]}]}',
        '{"parts":[]}', '{"parts":[{"stream":"","events":[{"type":"T"}]}]}', '{"other":1}',
        '{"events":[{"type":"T","data":NaN}]}', '{"events":[{"type":"T","data":' + "[" * 5000 + "]" * 5000 + '}]}',
    ]
    for w in wrong:
        path = "/commits" if '"parts"' in w or w.startswith("{\"other") else "/streams/s-1"
        for _ in range(20):
            reqs.append(post(path, w))
    reqs.append(post("/streams/s-1", "[" * 100000 + "]" * 100000))
    return reqs


def bad_utf8_and_names():
    reqs = []
    bad_seqs = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80"]
    for s in bad_seqs:
        for tmpl in (b'{"events":[{"type":"%s"}]}', b'{"events":[{"type":"T","data":"%s"}]}',
                     b'{"events":[{"type":"T","metadata":{"k":"%s"}}]}',
                     b'{"parts":[{"stream":"a%s","events":[{"type":"T"}]}]}'):
            body = tmpl.replace(b"%s", s)
            path = "/commits" if b"parts" in body else "/streams/s-1"
            for _ in range(25):
                reqs.append(post(path, body))
    names = ["%00", "%24reserved", "a%00b", "%01", "%7F", "a%0Ab", "%FF", "%C0%AF", "%ED%A0%80",
             "x" * 1025, "%24%24s-1", "", "%E2%82"]
    for n in names:
        for _ in range(60):
            reqs.append(post("/streams/" + n, '{"events":[{"type":"T"}]}'))
            reqs.append(post("/streams/" + n + "/metadata", '{"a":1}').replace(b"POST", b"PUT", 1))
    while len(reqs) < 2500:
        n = "".join(rng.choice("%0123456789abcdefABCDEF$\x7f") for _ in range(rng.randint(1, 12)))
        path = "/streams/%24" + urllib.parse.quote(n, safe="%")
        reqs.append(post(path, '{"events":[{"type":"T"}]}'))
    return reqs


def other_4xx():
    reqs = []
    for _ in range(200):
        reqs.append(post("/streams/s-1", VALID, ctype="text/plain"))
        reqs.append(post("/streams/s-1", VALID, ctype="application/jsonx"))
        reqs.append(b"POST /streams/s-1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        reqs.append(b"DELETE /streams/s-1?tombstone=perhaps HTTP/1.1\r\n\r\n")
        reqs.append(b"GET /all?limit=0 HTTP/1.1\r\n\r\n")
        reqs.append(b"GET /all?from=-1 HTTP/1.1\r\n\r\n")
        reqs.append(b"GET /all?since=notatime HTTP/1.1\r\n\r\n")
        reqs.append(b"GET /streams/s-1?direction=sideways HTTP/1.1\r\n\r\n")
        reqs.append(b"POST /admin/unknown HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        reqs.append(b"GET /subscribe?from=xyz HTTP/1.1\r\n\r\n")
    # declared huge bodies (answered 413 before they are sent) and a few real ones
    for _ in range(50):
        reqs.append(b"POST /streams/s-1 HTTP/1.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000000\r\n\r\n{\"events\":[")
    big = b'{"events":[{"type":"T","data":"' + b"x" * (17 * 1024 * 1024) + b'"}]}'
    for _ in range(2):
        reqs.append(post("/streams/s-1", big))
    return reqs


def send(req):
    """Returns the status code, or 0 when the connection was closed without an answer."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20)
    try:
        s.connect((HOST, PORT))
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            s.shutdown(socket.SHUT_WR)  # an unfinished request meets EOF, not a timeout
        except OSError:
            pass
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        return 0
    finally:
        s.close()
    if not data:
        return 0
    parts = data.split(b" ", 2)
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return -1


KNOWN_METHODS = {b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT",
                 b"PATCH"}


def known_method(req):
    """libevent 2.1 answers a method it does not know with 501 Not Implemented, the status HTTP
    prescribes for an unrecognised method (RFC 9110, 15.6.2): accepted only for those."""
    return req.split(b" ", 1)[0] in KNOWN_METHODS


cl = Client(URL)
st, info = cl.request("GET", "/info")
head0 = info["head_position"]
suites = [("broken HTTP", broken_http()), ("bad JSON", bad_json()),
          ("bad UTF-8 and names", bad_utf8_and_names()), ("other 4xx", other_4xx())]
total = sum(len(r) for _, r in suites)
if total < COUNT:
    extra = bad_json()
    suites.append(("more bad JSON", extra[: COUNT - total]))
rss_start = None
sent = 0
lock = threading.Lock()
bad = []

for name, reqs in suites:
    idx = list(range(len(reqs)))

    crashed = []
    done = [0] * 4

    def worker(k, part):
        # An exception in a worker must fail the test, not end the thread quietly (which would
        # leave part of the requests unsent and the checks below passing on the rest).
        global sent
        try:
            for i in part:
                code = send(reqs[i])
                with lock:
                    sent += 1
                    done[k] += 1
                    if not (code == 0 or 400 <= code < 500 or
                            (code == 501 and not known_method(reqs[i]))):
                        bad.append((name, code, reqs[i][:200]))
        except Exception:
            with lock:
                crashed.append((k, traceback.format_exc()))

    parts = [idx[k::4] for k in range(4)]
    threads = [threading.Thread(target=worker, args=(k, parts[k])) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.ok(not crashed, "%s: no worker thread raised" % name,
         "seed %d: %s" % (SEED, crashed[0][1] if crashed else ""))
    c.eq(done, [len(p) for p in parts], "%s: every worker sent all its requests" % name)
    c.ok(not bad, "%s: every request answered 4xx or closed" % name,
         "%d bad, e.g. %r" % (len(bad), bad[:5]))
    st, body = cl.request("GET", "/health")
    c.eq(st, 200, "%s: the server is up" % name)
    if rss_start is None:
        rss_start = rss_kb()

c.ok(sent >= COUNT, "at least %d malformed requests" % COUNT, "sent %d" % sent)
st, info = cl.request("GET", "/info")
c.eq(info["head_position"], head0, "nothing was appended")
growth = rss_kb() - rss_start
c.ok(growth < 64 * 1024, "RSS stays bounded", "grew by %d KiB" % growth)
print("sent %d malformed requests; RSS grew %d KiB" % (sent, growth), file=sys.stderr)
cl.close()
c.finish()
