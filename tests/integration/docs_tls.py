#!/usr/bin/env python3
"""docs_tls.py -- the TLS session of docs/http-api.md, run as written, in order.

Usage: docs_tls.py DOC BUILD_DIR PORT WORK_DIR

The console block that follows the doc's "**TLS.**" paragraph is run command by command with
bash in WORK_DIR: `build/` is the build directory, and the address 127.0.0.1:2113 is moved to
PORT (the steled command gets `--listen` for it). A command that ends in `&` is started in the
background and stopped (SIGTERM, exit status 0 required) at the end. Every other command's output
(stdout then stderr) must be the lines the doc shows, with the same change of port: exactly, or up to a `...` where the doc
abbreviates.

Prints "N passed, 0 failed", or the first difference and "N passed, 1 failed" and exits 1.
"""
import os
import re
import signal
import subprocess
import sys
import time


def session(doc):
    """(command, shown lines, doc line) of the console block after the **TLS.** paragraph."""
    lines = open(doc, encoding="utf-8").read().split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("**TLS.**"))
    begin = next(i for i in range(start, len(lines)) if lines[i].startswith("```console"))
    out, i = [], begin + 1
    while not lines[i].startswith("```"):
        if lines[i].startswith("$ "):
            at, text = i + 1, lines[i][2:]
            while text.endswith("\\"):
                i += 1
                text = text[:-1] + " " + lines[i].strip()
            shown = []
            i += 1
            while not lines[i].startswith("$ ") and not lines[i].startswith("```"):
                shown.append(lines[i])
                i += 1
            out.append((text, shown, at))
        else:
            i += 1
    return out


def matches(shown, got):
    if len(shown) != len(got):
        return False
    for want, have in zip(shown, got):
        if "..." in want:
            if not have.startswith(want[:want.index("...")]):
                return False
        elif want != have:
            return False
    return True


def main():
    doc, build, port, work = sys.argv[1:5]
    passed, background = 0, []

    def fail(where, why):
        for p in background:
            p.kill()
        sys.exit("FAIL: %s\n  %s\n%d passed, 1 failed" % (where, why, passed))

    steps = session(doc)
    if len(steps) < 5:
        fail(doc, "only %d commands in the TLS session" % len(steps))
    for text, shown, line in steps:
        where = "%s:%d: %s" % (doc, line, text)
        cmd = re.sub(r"(^|[\s=])build/", lambda m: m.group(1) + build + "/", text)
        cmd = cmd.replace("127.0.0.1:2113", "127.0.0.1:" + port)
        if text.rstrip().endswith("&"):
            cmd = cmd.rstrip().rstrip("&")
            if "steled" in text:
                cmd = cmd.replace("steled ", "steled --listen 127.0.0.1:%s " % port, 1)
            background.append(subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=work))
            deadline = time.time() + 10
            log = os.path.join(work, "steled.log")
            while time.time() < deadline:
                if os.path.exists(log) and '"listening"' in open(log).read():
                    break
                if background[-1].poll() is not None:
                    fail(where, "exited %d" % background[-1].returncode)
                time.sleep(0.05)
            else:
                fail(where, "did not say it was listening within 10 s")
            passed += 1
            continue
        r = subprocess.run(["bash", "-c", cmd], cwd=work, capture_output=True, text=True,
                           timeout=30)
        got = [l for l in (r.stdout + r.stderr).split("\n") if l]
        shown = [l.replace("127.0.0.1:2113", "127.0.0.1:" + port) for l in shown]
        if not matches(shown, got):
            fail(where, "the doc shows %r, the command printed %r" % (shown, got))
        passed += 1
    for p in background:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        if rc != 0:
            fail("the background command", "exited %d after SIGTERM" % rc)
    print("%d passed, 0 failed" % passed)


main()
