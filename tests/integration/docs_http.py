#!/usr/bin/env python3
"""docs_http.py -- the curl examples of docs/http-api.md, run in order against a live steled.

Usage: docs_http.py DOC PORT

Every `$ curl ...` command of the doc's console blocks that talks plain HTTP to localhost:2113
without a token is run as written (only the address is changed to the test server's port), in
the order the doc gives them, on one fresh store: the examples build on each other (the append
with expected version 0 follows the one that created the stream). For each:

- curl must succeed (a streaming `curl -N` is stopped after a second);
- the status must be what the doc implies: 4xx when the doc shows an "error" answer, the status
  named in a trailing "# 204"-style comment, 2xx otherwise;
- when the doc shows an answer, the JSON keys it shows must appear in the real answer in the same
  order (values may be abbreviated in the doc with ... or …), and a documented "error" code must
  be the real one.

Prints "N passed, 0 failed", or the first failing example and exits 1.
"""
import re
import shlex
import subprocess
import sys

KEY = re.compile(r'"([A-Za-z_]+)":')
ERROR = re.compile(r'"error":"([a-z_]+)"')
COMMENT = re.compile(r"\s{2,}#.*$")


def examples(doc):
    """(command, shown output, doc line) for each `$ curl` example of the console blocks."""
    lines = open(doc, encoding="utf-8").read().split("\n")
    out, i, in_block = [], 0, False
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_block = line.startswith("```console")
            i += 1
            continue
        if not (in_block and line.startswith("$ ")):
            i += 1
            continue
        start = i + 1
        text = line[2:]
        while not complete(text) and i + 1 < len(lines):
            i += 1
            text = text + "\n" + lines[i]
        shown = []
        i += 1
        while i < len(lines) and not lines[i].startswith("$ ") and not lines[i].startswith("```"):
            shown.append(lines[i])
            i += 1
        comment = re.search(r"\s{2,}#\s*(.*)$", text.split("\n")[-1])
        out.append((text, shown, comment.group(1) if comment else "", start))
    return out


def complete(text):
    """Whether a command is whole: it does not end in \\ and no quote is left open."""
    if text.endswith("\\"):
        return False
    try:
        shlex.split(COMMENT.sub("", text))
    except ValueError:
        return False
    return True


def is_subsequence(want, have):
    it = iter(have)
    return all(any(k == h for h in it) for k in want)


def main():
    doc, port = sys.argv[1], sys.argv[2]
    passed = 0
    for text, shown, comment, line in examples(doc):
        if not text.startswith("curl ") or "localhost:2113" not in text:
            continue
        if "Authorization" in text or "https://" in text:
            continue  # need a token file or a certificate: covered by test_server_api.sh
        cmd = COMMENT.sub("", text.replace("\\\n", " ")).replace(
            "localhost:2113", "127.0.0.1:" + port)
        streaming = " -sN " in " " + cmd + " "
        cmd += " -o /dev/stdout -w '\\n%{http_code}' --max-time " + ("1" if streaming else "10")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
        where = "%s:%d: %s" % (doc, line, text.split("\n")[0])
        if r.returncode != 0 and not (streaming and r.returncode == 28):
            sys.exit("FAIL: %s\n  curl exited %d: %s\n%d passed, 1 failed"
                     % (where, r.returncode, r.stderr.strip(), passed))
        body, _, status = r.stdout.rpartition("\n")
        status = int(status or 0)
        shown_text = "\n".join(COMMENT.sub("", s) for s in shown)
        documented_error = ERROR.search(shown_text)
        m = re.match(r"(\d{3})\b", comment)
        if documented_error:
            ok_status = 400 <= status < 500
        elif m:
            ok_status = status == int(m.group(1))
        else:
            ok_status = 200 <= status < 300
        problems = []
        if not ok_status:
            problems.append("status %d (doc: %s)" % (
                status, "an error" if documented_error else comment or "success"))
        want = KEY.findall(shown_text)
        if want and not is_subsequence(want, KEY.findall(body)):
            problems.append("the doc shows the keys %s" % want)
        if documented_error:
            got = ERROR.search(body)
            if not got or got.group(1) != documented_error.group(1):
                problems.append("error code %s, doc: %s" % (
                    got.group(1) if got else None, documented_error.group(1)))
        if problems:
            sys.exit("FAIL: %s\n  %s\n  answer: %s\n%d passed, 1 failed"
                     % (where, "; ".join(problems), body[:300], passed))
        passed += 1
    if passed < 20:
        sys.exit("FAIL: only %d examples found in %s\n%d passed, 1 failed" % (passed, doc, passed))
    print("%d passed, 0 failed" % passed)


main()
