#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Unused includes of the project's own headers, found by include-what-you-use.

    scripts/check_includes.py [BUILD_DIR] [--all] [-j N]

Runs include-what-you-use over the translation units of BUILD_DIR/compile_commands.json (the
build exports it) and reports every `#include "mash/..."`, `"models/..."`, `"scripts/..."` or
`"python/..."` line it says to remove, in the .cpp and in its own header. Only the project's
headers are judged: an unused one is a false dependency between folders, while IWYU's advice on
standard and third-party headers (which of LibTorch's or yaml-cpp's internal headers to name) is
left alone. `// IWYU pragma: keep` on an include line keeps it (umbrella headers, re-exports).

By default only the torch-free units are checked (a few seconds each; the CI lane); --all adds
the LibTorch units (~20 s each). Exits 0 when nothing is unused, 1 listing `file:line: ...`
lines, 77 (skipped) when include-what-you-use or the compilation database is missing.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

PROJECT_PREFIXES = ("mash/", "models/", "scripts/", "python/")


def iwyu_args(entry):
    """The unit's compiler arguments without the compiler, output, optimization and -Werror."""
    args = entry["arguments"][1:] if "arguments" in entry else shlex.split(entry["command"])[1:]
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-c"):
            skip = True
            continue
        if a.startswith("-O") or a == "-Werror" or a.startswith("-fopenmp"):
            continue
        out.append(a)
    return out


def unused_project_includes(entry, root):
    """(path, line, header) for each project include IWYU would remove from the unit or its header,
    and why IWYU stopped on the unit (None when it ran through)."""
    cmd = ["include-what-you-use", "-Xiwyu", "--no_fwd_decls", "-Wno-unknown-warning-option"] + iwyu_args(entry)
    cmd.append(entry["file"])
    r = subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)
    found = []
    current = None
    for line in r.stderr.splitlines():
        m = re.match(r"^(.*) should remove these lines:$", line)
        if m:
            current = os.path.realpath(os.path.join(entry["directory"], m.group(1)))
            continue
        if current is None:
            continue
        if not line.startswith("- "):
            current = None
            continue
        m = re.match(r'^- #include "([^"]+)"\s+// lines (\d+)-\d+', line)
        if m and m.group(1).startswith(PROJECT_PREFIXES) and current.startswith(root + os.sep):
            found.append((os.path.relpath(current, root), int(m.group(2)), m.group(1)))
    errors = [l for l in r.stderr.splitlines() if re.search(r"\b(fatal )?error:|Assertion failed", l)]
    if errors or r.returncode < 0:
        return found, errors[0].strip() if errors else f"exit {r.returncode}"
    return found, None


def main():
    root = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?", default=os.path.join(root, "build"))
    ap.add_argument("--all", action="store_true", help="also the LibTorch units (slow)")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    if shutil.which("include-what-you-use") is None:
        print("skipped: include-what-you-use is not installed (apt install iwyu)")
        return 77
    db_path = os.path.join(a.build, "compile_commands.json")
    if not os.path.exists(db_path):
        print(f"skipped: {db_path} not found (configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON)")
        return 77
    entries = []
    for e in json.load(open(db_path)):
        f = os.path.realpath(os.path.join(e["directory"], e["file"]))
        if not f.startswith(root + os.sep) or not f.endswith(".cpp") or "/third_party/" in f or "/build" in f[len(root):]:
            continue
        torch_unit = "torch/include" in (e.get("command") or " ".join(e.get("arguments", [])))
        if torch_unit and not a.all:
            continue
        entries.append(dict(e, file=f))
    entries.sort(key=lambda e: e["file"])
    problems = set()
    unchecked = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.j)) as pool:
        for e, (found, failure) in zip(entries, pool.map(lambda e: unused_project_includes(e, root), entries)):
            problems.update(found)
            if failure:
                unchecked.append((os.path.relpath(e["file"], root), failure))
    for path, why in unchecked:  # IWYU's own limits (assertions on some clang extensions), not ours
        print(f"{path}: not checked: include-what-you-use stopped: {why}")
    for path, line, header in sorted(problems):
        print(f'{path}:{line}: unused include "{header}" (include-what-you-use; `// IWYU pragma: keep` keeps it)')
    kind = "all" if a.all else "torch-free"
    if unchecked:
        kind += f" ({len(unchecked)} not checked)"
    if problems:
        print(f"check_includes: {len(problems)} unused project include(s) in {len(entries)} {kind} units")
        return 1
    print(f"check_includes: {len(entries)} {kind} units, no unused project include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
