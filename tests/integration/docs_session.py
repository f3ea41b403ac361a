#!/usr/bin/env python3
"""docs_session.py -- a shell session shown in a markdown page, run as written, in order.

Usage: docs_session.py BUILD_DIR PORT WORK_DIR DOC MARKER [DOC MARKER ...]

For each DOC MARKER pair (a line of DOC starts with MARKER), the first ```console or ```sh block
after that line is the session; the blocks run in the order given, with bash, in WORK_DIR, and
share its environment (an `export` line sets a variable for the commands after it). `build/` is
BUILD_DIR, and the address 127.0.0.1:2113 (or localhost:2113) is moved to PORT, in the commands
and in the output the doc shows; a steled command gets `--listen` for it.

- A command that ends in `&` is started in the background, its stderr being its log: the next
  command waits until the log says "listening". It is stopped (SIGTERM, exit status 0 required)
  at the end.
- Any other command must exit 0, or print the lines the doc shows (an error shown is an error
  expected); it is given 2 s when it streams (`tail`, `curl -sN`) and then stopped.
- When the doc shows lines, the output (stdout then stderr) must be those lines: exactly, where
  `...` or `…` stands for any text.

Prints "N passed, 0 failed", or the first difference and "N passed, 1 failed" and exits 1.
"""
import os
import re
import signal
import subprocess
import sys
import time

ADDRESS = re.compile(r"(127\.0\.0\.1|localhost):2113")


def block_after(lines, marker):
    """(command, shown lines, doc line) of the first console or sh block after marker."""
    start = next((i for i, l in enumerate(lines) if l.startswith(marker)), None)
    if start is None:
        raise SystemExit("FAIL: no line starts with %r\n0 passed, 1 failed" % marker)
    begin = next(i for i in range(start, len(lines))
                 if lines[i].startswith("```console") or lines[i].startswith("```sh"))
    out, i = [], begin + 1
    while not lines[i].startswith("```"):
        if not lines[i].startswith("$ "):
            i += 1
            continue
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
    return out


def line_matches(want, have):
    pieces = re.split(r"\.\.\.|…", want)
    return re.fullmatch(".*".join(re.escape(p) for p in pieces), have, re.S) is not None


def main():
    build, port, work = sys.argv[1:4]
    pairs = sys.argv[4:]
    if not pairs or len(pairs) % 2:
        raise SystemExit("usage: docs_session.py BUILD_DIR PORT WORK_DIR DOC MARKER [DOC MARKER ...]")
    steps = []
    for doc, marker in zip(pairs[0::2], pairs[1::2]):
        lines = open(doc, encoding="utf-8").read().split("\n")
        steps += [(doc, *step) for step in block_after(lines, marker)]
    passed, background, env = 0, [], dict(os.environ)
    env.pop("STELE_URL", None)
    env.pop("STELE_DATA", None)

    def fail(where, why):
        for p in background:
            p.kill()
        sys.exit("FAIL: %s\n  %s\n%d passed, 1 failed" % (where, why, passed))

    def local(text):
        text = re.sub(r"(^|[\s=])build/", lambda m: m.group(1) + build + "/", text)
        return ADDRESS.sub("127.0.0.1:" + port, text)

    waiting_log = None
    for doc, text, shown, line in steps:
        where = "%s:%d: %s" % (doc, line, text)
        cmd = local(text)
        shown = [local(l) for l in shown]
        if waiting_log is not None:
            deadline = time.time() + 10
            while time.time() < deadline:
                if os.path.exists(waiting_log) and '"listening"' in open(waiting_log).read():
                    break
                if background[-1].poll() is not None:
                    fail(where, "the server exited %d" % background[-1].returncode)
                time.sleep(0.05)
            else:
                fail(where, "the server did not say it was listening within 10 s")
            waiting_log = None
        m = re.fullmatch(r"export (\w+)=(\S+)", cmd.strip())
        if m:
            env[m.group(1)] = m.group(2)
            passed += 1
            continue
        if cmd.rstrip().endswith("&"):
            cmd = cmd.rstrip().rstrip("&").strip()
            if "steled" in cmd.split()[0] and "--listen" not in cmd:
                cmd = cmd.replace("steled", "steled --listen 127.0.0.1:%s" % port, 1)
            log = re.search(r"2>\s*(\S+)", cmd)
            if not log:
                fail(where, "a background command must send its log (stderr) to a file")
            waiting_log = os.path.join(work, log.group(1))
            background.append(subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=work, env=env))
            passed += 1
            continue
        proc = subprocess.Popen(["bash", "-c", cmd], cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        streams = re.search(r"(^|/)stele .*\btail\b|curl -sN", cmd) is not None
        try:
            out, err = proc.communicate(timeout=2 if streams else 30)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            if not streams:
                os.killpg(proc.pid, signal.SIGKILL)
                fail(where, "still running after 30 s")
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=10)
            rc = 0
        got = [l for l in (out + err).split("\n") if l]
        if shown:
            if len(shown) != len(got) or not all(map(line_matches, shown, got)):
                fail(where, "the doc shows %r, the command printed %r" % (shown, got))
        elif rc != 0:
            fail(where, "exit status %d: %s" % (rc, err.strip()[:500]))
        passed += 1
    for p in background:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        if rc != 0:
            fail("the background command", "exited %d after SIGTERM" % rc)
    print("%d passed, 0 failed" % passed)


main()
