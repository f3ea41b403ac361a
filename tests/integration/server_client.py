"""server_client.py -- a small HTTP and Server-Sent Events client for the steled tests.

Only the standard library: http.client for requests (keep-alive, one connection per Client),
raw sockets for SSE so that tests control reading (a slow consumer simply stops reading).
"""
import http.client
import json
import socket
import time
import urllib.parse


class Client:
    def __init__(self, url, token=None, timeout=30):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None):
        """Returns (status, parsed JSON body or raw text)."""
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        for attempt in range(2):
            if self.conn is None:
                self._connect()
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
        ctype = r.getheader("Content-Type", "")
        if data and ctype.startswith("application/json"):
            return r.status, json.loads(data)
        return r.status, data.decode("utf-8", "replace")

    def append(self, stream, events, expected="any"):
        return self.request("POST", "/streams/" + urllib.parse.quote(stream, safe=""),
                            {"expected_version": expected, "events": events})

    def close(self):
        if self.conn is not None:
            self.conn.close()


class SSE:
    """A Server-Sent Events stream read from a raw socket (chunked transfer decoded here)."""

    def __init__(self, url, path, headers=None, rcvbuf=None, timeout=10):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((u.hostname, u.port))
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%d" % (u.hostname, u.port),
                 "Accept: text/event-stream"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""
        self.body = b""
        self.status = None
        self.closed = False
        self.headers_done = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.raw += data
        return True

    def _decode(self):
        if not self.headers_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.raw[:end].decode("latin-1")
            self.status = int(head.split(" ")[1])
            self.raw = self.raw[end + 4:]
            self.headers_done = True
        while True:
            nl = self.raw.find(b"\r\n")
            if nl < 0:
                return
            size = int(self.raw[:nl].split(b";")[0], 16)
            if len(self.raw) < nl + 2 + size + 2:
                return
            self.body += self.raw[nl + 2:nl + 2 + size]
            self.raw = self.raw[nl + 2 + size + 2:]
            if size == 0:
                self.closed = True
                return

    def next(self, skip_comments=False):
        """The next message as a dict {id, event, data, comment}; None when the stream ended.
        skip_comments: pass over comment lines (heartbeats), which may come at any time."""
        while True:
            m = self._next()
            if m is None or not skip_comments or m["comment"] is None:
                return m

    def _next(self):
        while True:
            end = self.body.find(b"\n\n")
            if end >= 0:
                block = self.body[:end].decode()
                self.body = self.body[end + 2:]
                msg = {"id": None, "event": "message", "data": None, "comment": None}
                for line in block.split("\n"):
                    if line.startswith(":"):
                        msg["comment"] = line[1:].strip()
                    else:
                        k, _, v = line.partition(": ")
                        msg[k] = v
                if msg["data"] is not None:
                    msg["data"] = json.loads(msg["data"])
                return msg
            if self.closed:
                return None
            if not self._fill():
                self._decode()
                continue
            self._decode()

    def close(self):
        self.sock.close()


class Reader:
    """Reads HTTP responses (Content-Length or chunked) from one raw socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def _more(self):
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._more():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            if not self._more():
                return None
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head_only=False):
        """(status, headers dict lower-case, body bytes) or None when the server closed."""
        line = self._line()
        if line is None:
            return None
        status = int(line.split(b" ")[1])
        headers = {}
        while True:
            h = self._line()
            if not h:
                break
            k, _, v = h.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if head_only or status in (100, 204):
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    return status, headers, body
                body += self._take(size)
                self._take(2)
        return status, headers, self._take(int(headers.get("content-length", "0")))

    def at_eof(self, timeout=3):
        self.sock.settimeout(timeout)
        try:
            return self.buf == b"" and not self._more()
        except (ConnectionResetError, socket.timeout):
            return False


def wait_for(cond, timeout=10, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


class Checks:
    def __init__(self):
        self.passed = 0

    def ok(self, cond, name, detail=""):
        if not cond:
            print("FAIL: %s %s" % (name, detail))
            print("%d passed, 1 failed" % self.passed)
            raise SystemExit(1)
        self.passed += 1

    def eq(self, got, want, name):
        self.ok(got == want, name, "got %r, want %r" % (got, want))

    def finish(self):
        print("%d passed, 0 failed" % self.passed)
