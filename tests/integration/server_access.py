"""server_access.py URL -- tokens limited to stream prefixes never reach another prefix.

Run by test_server_access.sh against a steled started with this token file:

    admin-tok   admin  *
    ord-read    read   order-
    ord-write   write  order-
    multi-read  read   order-,cart-
    short-read  read   ord

The admin token fills streams of several look-alike names (order-1, order, orders, orders-x, ord,
other-1, ...), stream metadata and a deletion (events of the reserved `$$<name>` streams). Every
event's data and metadata, and every stream's metadata, carries a marker naming its stream. Then
each limited token walks every route that returns events, stream names or metadata, with every
parameter combination an attacker would try: empty and `%00` prefixes, encoded and look-alike
prefixes, categories, exact streams, `system`, `all`, `after`, `Last-Event-ID`. For every answer:

- no marker of a stream outside the token's prefixes, and no such stream name, comes back;
- an answer other than a refusal (400 or 403) is exactly what the admin token gets for the same
  request: access is granted or refused, never silently changed;
- the requests a user of the token needs (its own prefix, its own streams) are answered.

Writes outside the prefix (appends, commits with one part outside, deletes, metadata) are refused
and write nothing. The Authorization scheme is case-insensitive (RFC 7235).
"""
import http.client
import json
import socket
import sys
import urllib.parse

from server_client import Checks

URL = sys.argv[1]
HOST = urllib.parse.urlsplit(URL).hostname
PORT = urllib.parse.urlsplit(URL).port
c = Checks()

TOKENS = {
    "ord-read": ["order-"],
    "multi-read": ["order-", "cart-"],
    "short-read": ["ord"],
}

STREAMS = ["order-1", "order-2", "order-\u00fc", "order", "orders", "orders-x", "ord", "ord-1",
           "other-1", "other-2", "cart-1", "o", "Order-1"]
METADATA = ["order-1", "other-1", "orders", "ord"]
DELETED = "other-2"


def marker(name):
    return "mk%02dmk" % STREAMS.index(name)


def covered(name, prefixes):
    return any(name.startswith(p) for p in prefixes)


class Http:
    def __init__(self, token=None):
        self.token = token
        self.conn = None

    def req(self, method, path, body=None, headers=None, auth=None):
        h = dict(headers or {})
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        if auth is not None:
            h["Authorization"] = auth
        elif self.token:
            h["Authorization"] = "Bearer " + self.token
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        text = data.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return r.status, text, parsed


def subscribe(token, path, headers=None):
    """GET path as an SSE stream read until its caught-up signal. Returns (status, raw text,
    events): events is the list of event objects delivered before caught-up."""
    s = socket.create_connection((HOST, PORT), timeout=10)
    lines = ["GET %s HTTP/1.1" % path, "Host: x", "Accept: text/event-stream"]
    if token:
        lines.append("Authorization: Bearer " + token)
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    raw = b""
    while b"\r\n\r\n" not in raw:
        d = s.recv(65536)
        if not d:
            break
        raw += d
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                break
            rest += d
        s.close()
        return status, rest.decode("utf-8", "replace"), None
    # chunked: decode until the caught-up event
    body, buf = b"", rest
    events = []
    while True:
        while True:
            nl = buf.find(b"\r\n")
            if nl < 0:
                break
            size = int(buf[:nl].split(b";")[0], 16)
            if len(buf) < nl + 2 + size + 2:
                break
            body += buf[nl + 2:nl + 2 + size]
            buf = buf[nl + 2 + size + 2:]
        done = False
        while b"\n\n" in body:
            block, _, body = body.partition(b"\n\n")
            msg = {}
            for line in block.decode().split("\n"):
                if not line.startswith(":"):
                    k, _, v = line.partition(": ")
                    msg[k] = v
            if msg.get("event") == "caught-up":
                done = True
                break
            if "data" in msg and msg.get("event", "message") == "message":
                events.append(json.loads(msg["data"]))
        if done:
            break
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    return status, json.dumps(events), events


admin = Http("admin-tok")

# --- the data ------------------------------------------------------------------------------------
for name in STREAMS:
    for i in range(3):
        st, text, _ = admin.req("POST", "/streams/" + urllib.parse.quote(name, safe=""), {
            "events": [{"type": "T" + marker(name), "data": {"m": marker(name), "i": i},
                        "metadata": {"actor": marker(name)}}]})
        c.eq(st, 201, "admin appends to %s" % name)
for name in METADATA:
    st, _, _ = admin.req("PUT", "/streams/%s/metadata" % urllib.parse.quote(name, safe=""),
                         {"owner": marker(name)})
    c.eq(st, 200, "admin sets the metadata of %s" % name)
st, _, _ = admin.req("DELETE", "/streams/" + DELETED)
c.eq(st, 204, "admin deletes %s" % DELETED)
st, _, b = admin.req("GET", "/all?system=true&limit=10000")
c.ok(any(e["stream"].startswith("$$") for e in b["events"]), "the log holds $$ streams")


def check_no_leak(token, what, status, text, parsed, events_key=True):
    """No marker or name of a stream outside the token's prefixes in any answer."""
    prefixes = TOKENS[token]
    for name in STREAMS:
        if not covered(name, prefixes):
            c.ok(marker(name) not in text, "%s %s: no marker of %s" % (token, what, name),
                 text[:300])
    if status // 100 != 2 or not isinstance(parsed, (dict, list)):
        return
    evs = parsed if isinstance(parsed, list) else parsed.get("events", [])
    for e in evs if isinstance(evs, list) else []:
        c.ok(covered(e["stream"], prefixes), "%s %s: event of %s" % (token, what, e["stream"]))
    listed = parsed.get("streams", []) if isinstance(parsed, dict) else []
    for s in listed if isinstance(listed, list) else []:
        c.ok(covered(s["name"], prefixes), "%s %s: stream %s listed" % (token, what, s["name"]))


admin_cache = {}


def compare(token, what, status, text, admin_answer):
    """An answer is a refusal (400/403) or exactly the admin's answer."""
    if status in (400, 403):
        return
    c.eq((status, text), admin_answer, "%s %s: same as admin" % (token, what))


def walk_get(token, path):
    st, text, parsed = clients[token].req("GET", path)
    check_no_leak(token, "GET " + path, st, text, parsed)
    if path not in admin_cache:
        a = admin.req("GET", path)
        admin_cache[path] = (a[0], a[1])
    compare(token, "GET " + path, st, text, admin_cache[path])
    return st, parsed


def walk_sub(token, path, headers=None):
    st, text, events = subscribe(token, path, headers)
    what = "SSE %s %r" % (path, headers)
    check_no_leak(token, what, st, text, events)
    key = (path, json.dumps(headers))
    if key not in admin_cache:
        a = subscribe("admin-tok", path, headers)
        admin_cache[key] = (a[0], a[1])
    compare(token, what, st, text, admin_cache[key])
    return st, events


clients = {t: Http(t) for t in TOKENS}

PREFIXES = [None, "", "%00", "%00order-", "order-%00", "order", "order-", "order-1", "%6Frder-",
            "orders", "orders-x", "ord", "o", "other-", "cart-", "%24", "%24%24order-",
            "%24%24other-", "*", "%2A", "ORDER-", "%20order-", "order-+"]
CATEGORIES = [None, "", "order", "ord", "other", "%00", "order-"]
EXACT = [None, "", "order-1", "other-1", "%24%24other-1", "%00", "order-1%00x"]


def query(**kw):
    parts = ["%s=%s" % (k, v) for k, v in kw.items() if v is not None]
    return "?" + "&".join(parts) if parts else ""


# --- GET /all ------------------------------------------------------------------------------------
for token in TOKENS:
    for p in PREFIXES:
        for cat in CATEGORIES:
            for system in (None, "true"):
                walk_get(token, "/all" + query(prefix=p, category=cat, system=system))
        for s in EXACT:
            walk_get(token, "/all" + query(prefix=p, stream=s, system="true"))
            walk_get(token, "/all" + query(stream=s, direction="backward", limit=2))
    for cat in CATEGORIES:
        walk_get(token, "/all" + query(category=cat, type_prefix="T"))

# --- GET /streams (the list) ---------------------------------------------------------------------
for token in TOKENS:
    for p in PREFIXES:
        for all_ in (None, "true", "1", ""):
            for after in (None, "", "a", "order-1"):
                walk_get(token, "/streams" + query(prefix=p, all=all_, after=after))

# --- one stream: read, info, metadata ------------------------------------------------------------
NAMES = ["order-1", "order-2", "order-%C3%BC", "order", "orders", "orders-x", "ord", "ord-1",
         "other-1", "other-2", "cart-1", "o", "Order-1", "%6Fther-1", "%24%24other-1",
         "$$other-1", "%24%24order-1", "order-1%2F..%2Fother-1", "order-1/../other-1"]
for token in TOKENS:
    for n in NAMES:
        for suffix in ("", "?direction=backward", "/info", "/metadata"):
            walk_get(token, "/streams/" + n + suffix)

# --- GET /subscribe ------------------------------------------------------------------------------
for token in TOKENS:
    for p in PREFIXES:
        for cat in (None, "order", "%00"):
            for system in (None, "true"):
                walk_sub(token, "/subscribe" + query(prefix=p, category=cat, system=system))
    for s in EXACT:
        walk_sub(token, "/subscribe" + query(stream=s))
    for p in ("", "%00", "order-", "order", "ord"):
        for last in ("0", "3", "20"):
            walk_sub(token, "/subscribe" + query(prefix=p), {"Last-Event-ID": last})
            walk_sub(token, "/subscribe" + query(prefix=p, **{"from": "1"}),
                     {"Last-Event-ID": last})

# --- what each token must still be able to do ----------------------------------------------------
for token, prefixes in TOKENS.items():
    own = [n for n in STREAMS if covered(n, prefixes)]
    for p in prefixes:
        st, b = walk_get(token, "/all?prefix=%s&limit=10000" % urllib.parse.quote(p))
        c.eq(st, 200, "%s reads $all within %s" % (token, p))
        c.eq(sorted({e["stream"] for e in b["events"]}), sorted(n for n in own if n.startswith(p)),
             "%s reads every stream of %s" % (token, p))
        st, b = walk_get(token, "/streams?prefix=%s" % urllib.parse.quote(p))
        c.eq(st, 200, "%s lists %s" % (token, p))
        st, evs = walk_sub(token, "/subscribe?prefix=%s" % urllib.parse.quote(p))
        c.eq(st, 200, "%s subscribes to %s" % (token, p))
        c.eq(len(evs), 3 * len([n for n in own if n.startswith(p)]),
             "%s gets the history of %s" % (token, p))
    for n in own:
        st, _ = walk_get(token, "/streams/%s" % urllib.parse.quote(n, safe=""))
        c.eq(st, 200, "%s reads %s" % (token, n))
st, _ = walk_get("ord-read", "/all?prefix=%6Frder-")
c.eq(st, 200, "an encoded prefix inside the token's prefix is read")
st, b = walk_get("short-read", "/all?category=order&limit=10000")
c.eq(st, 200, "a category inside the token's prefix is read")
c.eq(sorted({e["stream"] for e in b["events"]}), sorted(["order", "order-1", "order-2",
                                                        "order-\u00fc"]), "category order")
for token in TOKENS:
    for path in ("/info", "/stats", "/metrics"):
        st, text, parsed = clients[token].req("GET", path)
        c.eq(st, 200, "%s GET %s" % (token, path))
        check_no_leak(token, "GET " + path, st, text, parsed)

# The bypasses reported in issue 9 are refused.
for path in ("/all?prefix=", "/all?prefix=%00", "/streams?prefix=&all=true", "/all",
             "/streams", "/all?category=order", "/all?prefix=order", "/all?prefix=orders-x"):
    st, _, _ = clients["ord-read"].req("GET", path)
    c.ok(st in (400, 403), "refused: GET %s" % path, "status %d" % st)
for path in ("/subscribe?prefix=", "/subscribe?prefix=%00", "/subscribe", "/subscribe?system=1"):
    st, _, _ = subscribe("ord-read", path)
    c.ok(st in (400, 403), "refused: SSE %s" % path, "status %d" % st)

# A value that decodes to a NUL byte is refused for every token, not cut at the NUL.
for path in ("/all?prefix=%00order-", "/streams?prefix=order-%00", "/all?category=%00"):
    st, _, b = admin.req("GET", path)
    c.eq((st, b["error"]), (400, "invalid_argument"), "admin: GET %s refused" % path)
    c.ok("NUL" in b["message"], "admin: GET %s: the message names the NUL" % path, b["message"])

# --- live events of other prefixes are not delivered ---------------------------------------------
s = socket.create_connection((HOST, PORT), timeout=10)
s.sendall(b"GET /subscribe?prefix=order- HTTP/1.1\r\nHost: x\r\n"
          b"Authorization: Bearer ord-read\r\nLast-Event-ID: 0\r\n\r\n")
got = b""
while b"caught-up" not in got:
    got += s.recv(65536)
for name in ("other-1", "orders", "order", "ord-1"):
    st, _, _ = admin.req("POST", "/streams/" + name, {
        "events": [{"type": "Live", "data": {"m": marker(name)}}]})
    c.eq(st, 201, "live append to %s" % name)
st, _, b = admin.req("POST", "/streams/order-2", {"events": [{"type": "Live", "data": {"m": "x"}}]})
c.eq(st, 201, "live append to order-2")
last = b["last_position"]
got = b""
while ("id: %d\n" % last).encode() not in got:
    d = s.recv(65536)
    c.ok(d != b"", "the live stream stays open")
    got += d
s.close()
for name in ("other-1", "orders", "order", "ord-1"):
    c.ok(marker(name).encode() not in got, "no live event of %s" % name)

# --- writes outside the prefix write nothing ---------------------------------------------------
w = Http("ord-write")
st, _, _ = w.req("POST", "/streams/order-5", {"events": [{"type": "Ok"}]})
c.eq(st, 201, "the write token appends in its prefix")
st, _, _ = w.req("POST", "/commits", {"parts": [
    {"stream": "order-5", "events": [{"type": "Ok"}]},
    {"stream": "order-6", "events": [{"type": "Ok"}]}]})
c.eq(st, 201, "the write token commits in its prefix")
st, _, _ = w.req("PUT", "/streams/order-5/metadata", {"a": 1})
c.eq(st, 200, "the write token sets metadata in its prefix")


def snapshot():
    a = admin.req("GET", "/all?system=true&limit=10000")
    b = admin.req("GET", "/streams?all=true&limit=10000")
    m = [admin.req("GET", "/streams/%s/metadata" % n)[1] for n in METADATA]
    return a[1], b[1], m


before = snapshot()
ev = [{"type": "Bad", "data": {"x": 1}}]
writes = []
for n in ("other-1", "other-9", "orders", "orders-x", "order", "ord-1", "%6Fther-1", "Order-1",
          "%24%24other-1", "%24%24order-1", "o"):
    writes += [("POST", "/streams/" + n, {"events": ev}),
               ("POST", "/streams/" + n, {"expected_version": "any", "events": ev}),
               ("DELETE", "/streams/" + n, None),
               ("DELETE", "/streams/" + n + "?tombstone=true", None),
               ("PUT", "/streams/" + n + "/metadata", {"owner": "attacker"})]
for bad in ("other-1", "orders", "order", "$$order-1", "", "order-\u0000x"):
    writes += [("POST", "/commits", {"parts": [{"stream": "order-7", "events": ev},
                                               {"stream": bad, "events": ev}]}),
               ("POST", "/commits", {"parts": [{"stream": bad, "events": ev},
                                               {"stream": "order-7", "events": ev}]})]
for method, path, body in writes:
    st, text, _ = w.req(method, path, body)
    c.ok(st in (400, 403), "%s %s refused" % (method, path), "status %d: %s" % (st, text[:200]))
    st, text, _ = Http("ord-read").req(method, path, body)
    c.ok(st in (400, 403), "read token: %s %s refused" % (method, path), "status %d" % st)
# The read token cannot write in its own prefix either.
st, _, _ = Http("ord-read").req("POST", "/streams/order-1", {"events": ev})
c.eq(st, 403, "the read token cannot append")
c.eq(snapshot(), before, "the refused writes wrote nothing")

# --- the Authorization header ------------------------------------------------------------------
h = Http()
for auth, want in (("Bearer ord-read", 200), ("bearer ord-read", 200), ("BEARER ord-read", 200),
                   ("BeArEr ord-read", 200), ("Bearer  ord-read", 200), ("Bearer", 401),
                   ("Bearer ", 401), ("Basic ord-read", 401), ("Bearerord-read", 401),
                   ("bearer nope", 401), ("Bearer ord-read x", 401)):
    st, _, _ = h.req("GET", "/streams/order-1", auth=auth)
    c.eq(st, want, "Authorization: %r" % auth)

c.finish()
