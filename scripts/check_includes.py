#!/usr/bin/env python3
"""Checks that every #include under core/ and plugins/ follows an arrow that
docs/architecture.md allows, so that the parts stay layered as drawn, and that
only core/cli/ prints (no printf, puts, perror or write to stdout/stderr
anywhere else: the library returns its messages).

The arrows are read from the ```arrows block of docs/architecture.md: one
line per part, `part -> the parts it may include`. A file's part is the
folder under core/ it sits in (core/include/ is "sdk", core/backend/cuda/ is
"backend"), or "plugins" for anything under plugins/. An include is placed by
the file it names: looked for beside the including file, then under core/,
then under core/include/; a name that is found nowhere is placed by its first
folder ("ddpmx/" is the sdk). Includes within one part are always allowed.

Usage:
  check_includes.py [--root DIR]   check the tree at DIR (default: the repo)
  check_includes.py --self-test    check the fixture tree tests/arrows/, whose
                                   lines marked `BAD` must be reported, and no
                                   other line
Exit status: 0 when every include is allowed, 1 otherwise (or when the
self-test finds the check wrong), 2 when the arrows cannot be read.
"""

import os
import re
import sys

SOURCE = re.compile(r"\.(c|h|inc|cu|cuh)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
PRINT = re.compile(r"(?<![\w.>])(printf|vprintf|puts|perror|putchar)\s*\(|"
                   r"\b(fprintf|vfprintf|fputs|fputc|fwrite)\s*\([^;]*\b(stdout|stderr)\b")


def read_arrows(doc):
    """The allowed arrows as {part: set of parts}, from the ```arrows block."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"^```arrows\n(.*?)^```", text, re.S | re.M)
    if not block:
        raise ValueError(f"{doc}: no ```arrows block")
    arrows = {}
    for n, line in enumerate(block.group(1).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([a-z]+)\s*->\s*([a-z ]*)", line)
        if not m:
            raise ValueError(f"{doc}: arrows line {n} is not `part -> part ...`: {line}")
        arrows[m.group(1)] = set(m.group(2).split())
    for part, targets in arrows.items():
        unknown = targets - set(arrows)
        if unknown:
            raise ValueError(f"{doc}: {part} -> {', '.join(sorted(unknown))}: no such part")
    cycle = find_cycle(arrows)
    if cycle:
        raise ValueError(f"{doc}: the arrows go round: {' -> '.join(cycle)}")
    return arrows


def find_cycle(arrows):
    """A list of parts that lead back to the first, or None."""
    state = {}

    def visit(part, path):
        state[part] = "open"
        for nxt in sorted(arrows[part]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[part] = "done"
        return None

    for part in sorted(arrows):
        if part not in state:
            found = visit(part, [part])
            if found:
                return found
    return None


def part_of(rel):
    """The part a path (relative to the root, '/'-separated) belongs to."""
    bits = rel.split("/")
    if bits[0] == "plugins":
        return "plugins"
    if bits[0] == "core" and len(bits) > 2:
        return "sdk" if bits[1] == "include" else bits[1]
    return None


def place(root, rel, name):
    """The part of the file that `#include name` in file rel names."""
    here = os.path.dirname(rel)
    for base in (here, "core", "core/include"):
        cand = os.path.normpath(os.path.join(base, name)).replace(os.sep, "/")
        if not cand.startswith("..") and os.path.isfile(os.path.join(root, cand)):
            return part_of(cand)
    if "/" not in name:  # beside the including file, wherever that is
        return part_of(rel)
    first = name.split("/", 1)[0]
    return "sdk" if first == "ddpmx" else first


def check(root, arrows):
    """The disallowed includes and prints as (file:line, what, line) tuples."""
    found = []
    for top in ("core", "plugins"):
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for f in sorted(files):
                if not SOURCE.search(f):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                src = part_of(rel)
                if src is None:
                    continue
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for n, line in enumerate(fh, 1):
                        code = line.split("//", 1)[0]
                        if src != "cli" and PRINT.search(code) and not code.lstrip().startswith("*"):
                            found.append((f"{rel}:{n}", f"{src} prints; only cli may", line.strip()))
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        quote, name = m.groups()
                        dst = place(root, rel, name)
                        # <stdio.h> and the like: not ours.
                        if quote == "<" and dst not in arrows:
                            continue
                        if dst == src:
                            continue
                        if src not in arrows:
                            found.append((f"{rel}:{n}", f"{src} is a part the arrows do not name",
                                          line.strip()))
                        elif dst not in arrows.get(src, ()):
                            found.append((f"{rel}:{n}", f"{src} -> {dst or '?'} is not an allowed arrow",
                                          line.strip()))
    return found


def report(found):
    for where, what, line in found:
        print(f"{where}: {what}: {line}")
    if found:
        print(f"{len(found)} line(s) break the house rules; see docs/architecture.md")


def self_test(repo, arrows):
    """Runs the check over tests/arrows/ and compares with the includes it
    marks BAD."""
    root = os.path.join(repo, "tests", "arrows")
    want = set()
    for d, _, files in os.walk(root):
        for f in files:
            path = os.path.join(d, f)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if "BAD" in line and (INCLUDE.match(line) or PRINT.search(line)):
                        want.add(f"{rel}:{n}")
    found = check(root, arrows)
    report(found)
    got = {where for where, _, _ in found}
    ok = True
    for where in sorted(want - got):
        print(f"self-test: {where} is marked BAD but was not reported")
        ok = False
    for where in sorted(got - want):
        print(f"self-test: {where} was reported but is not marked BAD")
        ok = False
    if not want:
        print("self-test: the fixture marks no line BAD")
        ok = False
    print("self-test: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = repo
    args = argv[1:]
    if args[:1] == ["--root"] and len(args) >= 2:
        root = args[1]
        args = args[2:]
    try:
        arrows = read_arrows(os.path.join(repo, "docs", "architecture.md"))
    except (OSError, ValueError) as e:
        print(e)
        return 2
    if args == ["--self-test"]:
        return self_test(repo, arrows)
    if args:
        print(__doc__)
        return 2
    found = check(root, arrows)
    report(found)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
