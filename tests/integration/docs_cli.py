#!/usr/bin/env python3
"""docs_cli.py -- the local session shown in docs/cli.md, run as written.

Usage: docs_cli.py DOC BINDIR WORKDIR

Every console block of the doc that works on a local store (not through --url or STELE_URL) is
run as one bash session in a fresh WORKDIR with BINDIR first on PATH: each `$ ` command in turn,
its stdout and stderr together compared with the lines the doc shows under it. Times, UUIDs and
hashes differ on every run, so both sides have them replaced by placeholders, and a `…` in the
doc stands for any text. Prints "N passed, 0 failed", or the first differing command and exits 1.
"""
import os
import re
import subprocess
import sys

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
HASH = re.compile(r"\b[0-9a-f]{64}\b")
MARK = "@@docs_cli_done@@"


def blocks(doc):
    """Each local console block: a list of (command, shown lines, doc line)."""
    out, cur, in_block = [], None, False
    for n, line in enumerate(open(doc, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("```"):
            if in_block and cur:
                out.append(cur)
            in_block, cur = line.startswith("```console"), []
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            cur.append((line[2:], [], n))
        elif cur:
            cur[-1][1].append(line)
    return [b for b in out if not any("STELE_URL" in c or "--url" in c for c, _, _ in b)]


def normal(text):
    return HASH.sub("<hash>", UUID.sub("<uuid>", TIME.sub("<time>", text)))


def matches(shown, got):
    if "…" not in shown:
        return shown == got
    pattern = ".*".join(re.escape(p) for p in shown.split("…"))
    return re.fullmatch(pattern, got) is not None


def main():
    doc, bindir, work = sys.argv[1:4]
    env = dict(os.environ, PATH=os.path.abspath(bindir) + os.pathsep + os.environ["PATH"])
    for k in ("STELE_DATA", "STELE_URL", "STELE_TOKEN"):
        env.pop(k, None)
    passed = 0
    for block in blocks(doc):
        # one shell for the block, so exports and files carry over; a marker ends each output
        script = "".join("%s\necho '%s'\n" % (cmd, MARK) for cmd, _, _ in block)
        r = subprocess.run(["bash", "-c", "exec 2>&1\n" + script], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        outputs = r.stdout.split(MARK + "\n")
        for i, (cmd, shown, line) in enumerate(block):
            got = outputs[i].rstrip("\n").split("\n") if i < len(outputs) else ["<no output>"]
            if got == [""]:
                got = []
            want = [s for s in shown if s.strip()]
            ok = len(want) == len(got) and all(
                matches(normal(w), normal(g)) for w, g in zip(want, got))
            if not ok:
                sys.exit("FAIL: %s:%d: $ %s\n  doc shows:\n    %s\n  got:\n    %s\n%d passed, 1 failed"
                         % (doc, line, cmd, "\n    ".join(want), "\n    ".join(got), passed))
            passed += 1
    if passed < 15:
        sys.exit("FAIL: only %d commands found in %s\n%d passed, 1 failed" % (passed, doc, passed))
    print("%d passed, 0 failed" % passed)


main()
