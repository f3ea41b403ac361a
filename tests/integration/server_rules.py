"""server_rules.py URL -- the HTTP API keeps its own rules on every route.

Run by test_server_rules.sh against a steled started with a token file (admin-tok admin *,
ord-read read order-, all-read read *) and --cors-origin http://app.example:

- every route refuses a query parameter it does not take (400 naming it) and a parameter given
  twice (400 naming it), before doing anything: nothing is written;
- PUT /streams/{s}/metadata takes ?expected_version=, checked against the metadata version (409
  wrong_expected_version with the actual version), reported by stream info; a tombstoned
  stream's metadata cannot change (410 stream_tombstoned);
- HEAD /subscribe answers the headers of the event stream, without a body, and the connection
  goes on serving requests;
- a '+' that arrived as a space in since/until is named, with the %2B it needs;
- CORS: answers to the configured origin carry Access-Control-Allow-Origin, a preflight OPTIONS is
  answered 204 with the methods and headers allowed, other origins get no CORS header;
- subscription tickets: POST /subscribe/ticket with a token gives a single-use ticket that
  GET /subscribe?ticket= takes in place of the token, with the token's prefixes and nothing more.
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
ORIGIN = "http://app.example"
c = Checks()


class Conn:
    """One keep-alive connection; each call returns (status, headers, body)."""

    def __init__(self, token=None):
        self.token = token
        self.conn = http.client.HTTPConnection(HOST, PORT, timeout=30)

    def req(self, method, path, body=None, headers=None, token=True):
        h = dict(headers or {})
        if body is not None:
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if token and self.token:
            h["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        data = r.read()
        if r.getheader("Content-Type", "").startswith("application/json") and data:
            data = json.loads(data)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data


admin = Conn("admin-tok")


def head_position():
    st, _, b = admin.req("GET", "/info")
    return b["head_position"]


def sse_open(path, headers=None):
    """Send a GET on a raw socket; returns (status line, what came after the status line, socket)."""
    s = socket.create_connection((HOST, PORT), timeout=10)
    lines = ["GET %s HTTP/1.1" % path, "Host: x"] + ["%s: %s" % kv for kv in (headers or {}).items()]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode(), data, s


# --- a store to work on --------------------------------------------------------------------------
for name in ["order-1", "other-1", "gone-1"]:
    st, _, _ = admin.req("POST", "/streams/" + name, {"events": [{"type": "T", "data": {}}]})
    c.eq(st, 201, "append " + name)
st, _, _ = admin.req("PUT", "/streams/gone-1/metadata", {"owner": "x"})
c.eq(st, 200, "metadata of gone-1")
st, _, _ = admin.req("DELETE", "/streams/gone-1?tombstone=true")
c.eq(st, 204, "tombstone gone-1")

# --- unknown and repeated parameters, on every route ----------------------------------------------
ROUTES = [
    ("GET", "/health", None), ("HEAD", "/health", None), ("GET", "/info", None),
    ("GET", "/stats", None), ("GET", "/metrics", None), ("GET", "/streams", None),
    ("HEAD", "/streams", None), ("GET", "/streams/order-1", None),
    ("POST", "/streams/order-1", {"events": [{"type": "Bad"}]}),
    ("DELETE", "/streams/order-1", None), ("GET", "/streams/order-1/info", None),
    ("HEAD", "/streams/order-1/info", None), ("GET", "/streams/order-1/metadata", None),
    ("PUT", "/streams/order-1/metadata", {"bad": True}),
    ("POST", "/commits", {"parts": [{"stream": "order-1", "events": [{"type": "Bad"}]}]}),
    ("GET", "/all", None), ("GET", "/events/11111111-1111-4111-8111-111111111111", None),
    ("GET", "/subscribe", None), ("HEAD", "/subscribe", None),
    ("POST", "/subscribe/ticket", None), ("POST", "/admin/verify", None),
    ("POST", "/admin/reindex", None),
]
TAKES = {("DELETE", "/streams/order-1"): {"expected_version"},
         ("PUT", "/streams/order-1/metadata"): {"expected_version"},
         ("GET", "/subscribe"): {"ticket"}, ("HEAD", "/subscribe"): {"ticket"}}
head0 = head_position()
for method, path, body in ROUTES:
    for query, name in [("colour=red", "colour"), ("expected_version=99", "expected_version"),
                        ("ticket=x", "ticket")]:
        if name in TAKES.get((method, path), ()):
            continue
        st, _, b = admin.req(method, path + "?" + query, body)
        c.eq(st, 400, "%s %s?%s: refused" % (method, path, query))
        if method != "HEAD":
            c.eq([b.get("error"), b.get("parameter")], ["bad_request", name],
                 "%s %s?%s: names the parameter" % (method, path, query))
REPEATED = [
    ("GET", "/all?limit=1&limit=2", "limit"),
    ("GET", "/streams/order-1?from=0&from=1", "from"),
    ("GET", "/streams?prefix=order-&prefix=other-", "prefix"),
    ("DELETE", "/streams/order-1?tombstone=false&tombstone=true", "tombstone"),
    ("PUT", "/streams/order-1/metadata?expected_version=any&expected_version=0", "expected_version"),
    ("GET", "/subscribe?type=A&type=B", "type"),
    ("GET", "/all?since=2020-01-01&since=2030-01-01", "since"),
]
for method, path, name in REPEATED:
    st, _, b = admin.req(method, path, {"bad": True} if method == "PUT" else None)
    c.eq([st, b.get("error"), b.get("parameter")], [400, "bad_request", name],
         "%s %s: a repeated parameter is refused, named" % (method, path))
    c.ok(name in b.get("message", ""), "%s %s: the message names it" % (method, path))
c.eq(head_position(), head0, "refused requests wrote nothing")
st, _, b = admin.req("GET", "/streams/order-1/info")
c.eq([st, b["state"], b["last_version"]], [200, "active", 0], "order-1 neither deleted nor changed")

# --- PUT metadata with an expected version --------------------------------------------------------
st, _, b = admin.req("GET", "/streams/order-1/info")
c.eq(b["metadata_version"], -1, "no metadata yet: metadata_version -1")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=99", {"owner": "a"})
c.eq([st, b.get("error"), b.get("expected"), b.get("actual")],
     [409, "wrong_expected_version", 99, -1], "expected 99 on no metadata: 409 with the actual")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=no_stream", {"owner": "a"})
c.eq([st, b], [200, {"metadata_version": 0}], "no_stream on no metadata: written, version 0")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=no_stream", {"owner": "b"})
c.eq([st, b.get("actual")], [409, 0], "no_stream once written: 409, actual 0")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=0", {"owner": "b"})
c.eq([st, b], [200, {"metadata_version": 1}], "expected 0: written, version 1")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=0", {"owner": "c"})
c.eq([st, b.get("error"), b.get("actual")], [409, "wrong_expected_version", 1],
     "a stale expected version: 409, actual 1")
st, _, b = admin.req("GET", "/streams/order-1/metadata")
c.eq(b, {"owner": "b"}, "a refused write changed nothing")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=one", {"owner": "c"})
c.eq([st, b.get("error"), b.get("parameter")], [400, "invalid_argument", "expected_version"],
     "a malformed expected version: 400")
st, _, b = admin.req("PUT", "/streams/order-1/metadata?expected_version=any", {"owner": "c"})
c.eq([st, b], [200, {"metadata_version": 2}], "any: written")
st, _, b = admin.req("GET", "/streams/order-1/info")
c.eq(b["metadata_version"], 2, "stream info names the metadata version")
head1 = head_position()
for q in ["", "?expected_version=any", "?expected_version=1", "?expected_version=0"]:
    st, _, b = admin.req("PUT", "/streams/gone-1/metadata" + q, {"owner": "y"})
    c.eq([st, b.get("error")], [410, "stream_tombstoned"],
         "metadata of a tombstoned stream%s: 410" % q)
c.eq(head_position(), head1, "nothing written for a tombstoned stream")
st, _, b = admin.req("GET", "/streams/gone-1/metadata")
c.eq(b, {"owner": "x"}, "a tombstoned stream's metadata unchanged")

# --- HEAD /subscribe -------------------------------------------------------------------------------
conn = Conn("admin-tok")
st, h, b = conn.req("HEAD", "/subscribe?prefix=order-")
c.eq([st, h.get("content-type"), b], [200, "text/event-stream", b""], "HEAD /subscribe: headers")
c.ok("content-length" not in h, "HEAD /subscribe: no Content-Length for a streamed answer")
st, _, b = conn.req("GET", "/health")
c.eq([st, b], [200, {"status": "ok"}], "the connection goes on after HEAD /subscribe")
st, _, b = conn.req("HEAD", "/subscribe?from=x")
c.eq(st, 400, "HEAD /subscribe checks the request as GET does")
st, _, b = Conn().req("HEAD", "/subscribe")
c.eq(st, 401, "HEAD /subscribe asks for a token as GET does")

# --- a '+' that arrived as a space ------------------------------------------------------------------
st, _, b = admin.req("GET", "/all?since=2026-01-01T00:00:00+01:00")
c.eq([st, b.get("parameter")], [400, "since"], "since with an unencoded '+': refused")
c.ok("%2B" in b.get("message", ""), "the message names %2B: " + b.get("message", ""))
st, _, b = admin.req("GET", "/all?until=2026-01-01T00:00:00%2B01:00")
c.eq(st, 200, "until with %2B: served")
st, _, b = admin.req("GET", "/all?until=2026-01-01Tnoon")
c.ok(st == 400 and "%2B" not in b.get("message", ""), "other bad times: no word of %2B")

# --- CORS ----------------------------------------------------------------------------------------------
for method, path in [("GET", "/health"), ("GET", "/streams/order-1"), ("GET", "/nowhere")]:
    st, h, _ = admin.req(method, path, headers={"Origin": ORIGIN})
    c.eq([h.get("access-control-allow-origin"), h.get("vary")], [ORIGIN, "Origin"],
         "%s %s from the configured origin: allowed" % (method, path))
    st, h, _ = admin.req(method, path, headers={"Origin": "http://evil.example"})
    c.ok(not any(k.startswith("access-control-") for k in h),
         "%s %s from another origin: no CORS header" % (method, path))
    st, h, _ = admin.req(method, path)
    c.ok(not any(k.startswith("access-control-") for k in h),
         "%s %s without Origin: no CORS header" % (method, path))
st, h, b = Conn().req("GET", "/streams/order-1", headers={"Origin": ORIGIN})
c.eq([st, h.get("access-control-allow-origin")], [401, ORIGIN],
     "a refusal to the origin carries CORS too (the page can read why)")
pre = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
       "Access-Control-Request-Headers": "authorization, content-type"}
st, h, b = Conn().req("OPTIONS", "/streams/order-1", headers=pre)
c.eq(st, 204, "preflight: 204 without a token")
c.eq(h.get("access-control-allow-origin"), ORIGIN, "preflight: origin allowed")
c.eq(h.get("access-control-allow-methods"), "GET, HEAD, POST, DELETE, OPTIONS",
     "preflight: the path's methods")
c.eq(h.get("access-control-allow-headers"), "Authorization, Content-Type, Last-Event-ID",
     "preflight: the headers a client sends")
st, h, b = Conn().req("OPTIONS", "/subscribe/ticket", headers=pre)
c.eq([st, h.get("access-control-allow-methods")], [204, "POST, OPTIONS"], "preflight: ticket")
st, h, b = Conn().req("OPTIONS", "/streams/order-1", headers=dict(pre, Origin="http://evil.example"))
c.ok(st == 204 and not any(k.startswith("access-control-") for k in h),
     "preflight from another origin: no CORS header")
c.eq(h.get("allow"), "GET, HEAD, POST, DELETE, OPTIONS", "OPTIONS names the methods (Allow)")
st, h, b = Conn().req("OPTIONS", "/nowhere", headers=pre)
c.eq(st, 404, "OPTIONS of no endpoint: 404")

# --- subscription tickets -------------------------------------------------------------------------------
st, _, b = Conn().req("POST", "/subscribe/ticket")
c.eq([st, b.get("error")], [401, "unauthorized"], "a ticket needs a token")
reader = Conn("ord-read")
st, _, t = reader.req("POST", "/subscribe/ticket")
c.eq(st, 201, "a read token gets a ticket")
c.ok(sorted(t) == ["expires", "expires_in_ms", "ticket"] and len(t["ticket"]) == 64 and
     t["expires"].endswith("Z") and t["expires_in_ms"] == 30000, "ticket answer: %r" % (t,))
status, data, s = sse_open("/subscribe?prefix=order-&from=1&ticket=" + t["ticket"])
c.eq(status, "HTTP/1.1 200 OK", "a ticket opens a subscription without a token")
while b"caught-up" not in data:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
c.ok(b'"stream":"order-1"' in data and b"other-1" not in data, "it delivers the token's streams")
s.close()
status, _, s = sse_open("/subscribe?prefix=order-&ticket=" + t["ticket"])
s.close()
c.eq(status, "HTTP/1.1 401 Unauthorized", "a ticket serves once")
st, _, t2 = reader.req("POST", "/subscribe/ticket")
status, _, s = sse_open("/subscribe?ticket=" + t2["ticket"])
s.close()
c.eq(status, "HTTP/1.1 403 Forbidden", "a ticket carries its token's prefixes: all streams refused")
st, _, t3 = reader.req("POST", "/subscribe/ticket")
status, _, s = sse_open("/subscribe?stream=other-1&ticket=" + t3["ticket"])
s.close()
c.eq(status, "HTTP/1.1 403 Forbidden", "a ticket reaches no stream outside its token's prefixes")
st, _, t4 = reader.req("POST", "/subscribe/ticket")
status, _, s = sse_open("/subscribe?prefix=order-&ticket=" + t4["ticket"],
                        {"Authorization": "Bearer ord-read"})
s.close()
c.eq(status, "HTTP/1.1 400 Bad Request", "a ticket and a token together: refused")
status, _, s = sse_open("/subscribe?prefix=order-&ticket=" + "0" * 64)
s.close()
c.eq(status, "HTTP/1.1 401 Unauthorized", "a made-up ticket: 401")
st, _, b = reader.req("GET", "/all?prefix=order-&ticket=" + t4["ticket"], token=False)
c.eq([st, b.get("parameter")], [400, "ticket"], "only /subscribe takes a ticket")
# Bounded: 64 outstanding per token (t4 is one), then 429; another token still gets its own.
codes = [reader.req("POST", "/subscribe/ticket")[0] for _ in range(64)]
c.eq([codes.count(201), codes[-1]], [63, 429], "at most 64 outstanding tickets per token")
st, _, _ = Conn("all-read").req("POST", "/subscribe/ticket")
c.eq(st, 201, "another token is not held back")

c.finish()
