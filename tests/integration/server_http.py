"""server_http.py URL -- steled's HTTP/1.1 over raw sockets (test_server_http.sh starts it with a
2000-byte body limit, a 1024-byte header limit and a 1 s request timeout).

Each check is something a client relies on: answers in order on a keep-alive connection, bodies
sent in chunks or after 100-continue, HTTP/1.0 closing unless asked to keep alive, HEAD without a
body, and every request that cannot be read refused with a JSON error naming the problem, before
anything is written.
"""
import json
import socket
import sys
import time
import urllib.parse

from server_client import Checks, Client, Reader

URL = sys.argv[1]
u = urllib.parse.urlsplit(URL)
c = Checks()


def connect():
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def head_position():
    st, info = Client(URL).request("GET", "/info")
    return info["head_position"]


def post(path, body, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (path, len(body), extra)).encode() + body.encode()


EVENT = '{"events":[{"type":"T","data":{"n":%d}}]}'

# --- keep-alive and pipelining --------------------------------------------------------------
s = connect()
r = Reader(s)
s.sendall(b"".join(post("/streams/pipe-1", EVENT % i) for i in range(5)) +
          b"GET /streams/pipe-1 HTTP/1.1\r\nHost: x\r\n\r\n")
versions = []
for i in range(5):
    st, h, body = r.response()
    c.eq(st, 201, "pipelined append %d" % i)
    versions.append(json.loads(body)["last_version"])
c.eq(versions, [0, 1, 2, 3, 4], "pipelined appends are answered in order")
st, h, body = r.response()
c.eq([e["data"]["n"] for e in json.loads(body)["events"]], [0, 1, 2, 3, 4],
     "a pipelined read after them sees all five")
s.close()

# --- bodies: chunked, 100-continue, HEAD ----------------------------------------------------
s = connect()
r = Reader(s)
body = (EVENT % 7).encode()
chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 5]), body[i:i + 5])
                  for i in range(0, len(body), 5))
s.sendall(b"POST /streams/chunked-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX-Trailer: t\r\n\r\n")
st, h, resp = r.response()
c.eq(st, 201, "a chunked body with extensions and a trailer is read")
s.sendall(b"POST /streams/cont-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
st, h, _ = r.response()
c.eq(st, 100, "Expect: 100-continue gets 100 Continue before the body is sent")
s.sendall(body)
st, h, _ = r.response()
c.eq(st, 201, "then the append")
s.sendall(b"HEAD /streams/cont-1 HTTP/1.1\r\nHost: x\r\n\r\n")
st, h, b = r.response(head_only=True)
c.ok(st == 200 and int(h["content-length"]) > 0, "HEAD gives the length of the body it omits")
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
st, h, b = r.response()
c.eq(st, 200, "the connection goes on after HEAD (no body was sent)")
s.close()

# --- HTTP/1.0 and Connection: close ---------------------------------------------------------
for req, keep, name in [
        (b"GET /health HTTP/1.0\r\n\r\n", False, "HTTP/1.0 closes after the answer"),
        (b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", True,
         "HTTP/1.0 with keep-alive stays open"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", False,
         "Connection: close closes after the answer")]:
    s = connect()
    r = Reader(s)
    s.sendall(req)
    st, h, b = r.response()
    c.eq(st, 200, name + " (status)")
    if keep:
        c.eq(h.get("connection"), "keep-alive", name)
        s.sendall(req)
        c.eq(r.response()[0], 200, name + ": a second request")
    else:
        c.eq(h.get("connection"), "close", name + " (header)")
        c.ok(r.at_eof(), name)
    s.close()

# --- refusals: JSON errors, nothing written, connection closed ------------------------------
before = head_position()
refusals = [
    (post("/streams/big-1", '{"events":[{"type":"T","data":"%s"}]}' % ("x" * 3000)), 413,
     "payload_too_large", "a body over --max-body-bytes"),
    (b"POST /streams/big-2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 999999999\r\n\r\n", 413, "payload_too_large",
     "a Content-Length over the limit, refused before the body is sent"),
    (b"POST /streams/big-2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 99999999999999999999\r\n\r\n", 413, "payload_too_large",
     "a 20-digit Content-Length (beyond 64 bits) is a length over the limit, not malformed"),
    (b"POST /streams/big-3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"x" * 1024 + b"\r\n" +
     b"400\r\n" + b"x" * 1024 + b"\r\n0\r\n\r\n", 413, "payload_too_large",
     "chunks adding up to more than the limit"),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 2000 + b"\r\n\r\n", 431,
     "header_too_large", "headers over --max-header-bytes"),
    (b"GET /health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(70)) + b"\r\n",
     431, "header_too_large", "more header lines than the limit"),
    (b"GET /health HTTP/2.0\r\n\r\n", 400, "bad_request", "HTTP/2.0 on an HTTP/1.1 port"),
    (b"GET /he alth HTTP/1.1\r\n\r\n", 400, "bad_request", "a space in the target"),
    (b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400, "bad_request",
     "white space before a header's colon"),
    (b"GET /health HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400, "bad_request",
     "a folded header line"),
    (b"POST /streams/te-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request",
     "both Content-Length and Transfer-Encoding"),
    (b"POST /streams/te-2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
     "bad_request", "a transfer coding other than chunked"),
    (b"POST /streams/cl-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
     400, "bad_request", "two different Content-Lengths"),
    (b"POST /streams/ex-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: magic\r\n\r\n{}",
     417, "expectation_failed", "an expectation other than 100-continue"),
    (b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed",
     "a method no route serves"),
]
for req, status, code, name in refusals:
    s = connect()
    r = Reader(s)
    try:
        s.sendall(req)
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = r.response()
    c.ok(resp is not None, name + ": answered")
    st, h, b = resp
    c.eq(st, status, name + ": status")
    c.eq(h.get("content-type"), "application/json", name + ": a JSON answer")
    err = json.loads(b)
    c.eq(err["error"], code, name + ": error code")
    c.ok(len(err["message"]) > 0, name + ": the message names the problem", err["message"])
    if status != 405:
        c.ok(r.at_eof(), name + ": the connection is closed after it")
    s.close()
c.eq(head_position(), before, "no refused request wrote anything")

# --- a request that stops arriving ----------------------------------------------------------
s = connect()
r = Reader(s)
s.sendall(b"POST /streams/slow-1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100\r\n\r\n{\"events\":")
t0 = time.time()
st, h, b = r.response()
c.eq(st, 408, "a body that stops arriving gets 408")
c.eq(json.loads(b)["error"], "request_timeout", "408 names request_timeout")
c.ok(time.time() - t0 < 5, "within about the request timeout")
c.ok(r.at_eof(), "and the connection is closed")
s.close()
c.eq(head_position(), before, "the partial append wrote nothing")

# A request that trickles in (a byte every 0.3 s, never idle for the timeout) still has to arrive
# whole within it.
s = connect()
r = Reader(s)
t0 = time.time()
answer = None
for b in b"GET /health HTTP/1.1\r\nX-Slow: " + b"z" * 40:
    try:
        s.sendall(bytes([b]))
    except (BrokenPipeError, ConnectionResetError):
        break
    s.settimeout(0.3)
    try:
        data = s.recv(65536)
    except socket.timeout:
        continue
    r.buf += data
    break
s.settimeout(10)
st, h, b = r.response()
c.eq(st, 408, "a trickling request gets 408 at the timeout")
c.ok(time.time() - t0 < 5, "within about the request timeout", "%.1f s" % (time.time() - t0))
s.close()

# An idle keep-alive connection is closed silently after the timeout.
s = connect()
r = Reader(s)
c.ok(r.at_eof(timeout=5), "an idle connection is closed after the request timeout")
s.close()

c.finish()
