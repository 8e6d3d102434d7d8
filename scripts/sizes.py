#!/usr/bin/env python3
"""The sizes of src/: files too long before their test module, functions too long to read.

Reads every `src/**/*.rs` and prints
- each file with more than `--max-file-lines` lines (default 800) before its test module: the
  lines up to the first `#[cfg(test)]` at the start of a line, all of them when there is none
  (blank and comment lines count too: the bar is what a reader scrolls through);
- each function with more than `--max-fn-lines` lines (default 150), counted from its `fn` line
  to its closing brace, test functions included;
- the counts.

`--check` exits 1 when anything is over a bar (issue #37's goal), so CI can hold the line.

Python 3 standard library only, and read from the text, not from rustc: it relies on rustfmt's
layout (a function's closing brace is the first later line at the `fn` line's indentation that
starts with `}`), which `cargo fmt --check` guarantees before this runs in `.ci/run`.
"""

import argparse
import os
import re
import sys

FN = re.compile(
    r"^(?P<indent>\s*)(?:pub(?:\([^)]*\))?\s+)?(?:(?:const|async|unsafe|extern\s+\"[^\"]*\")\s+)*"
    r"fn\s+(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)


def rust_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def lines_before_tests(lines):
    """Lines before the first `#[cfg(test)]` that starts a line (the test module)."""
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            return i
    return len(lines)


def functions(lines):
    """(name, first line number, length in lines) of each function with a body."""
    found = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        indent = m.group("indent")
        # The signature may span lines; it ends at the line that opens the body (`{` last) or
        # at a `;` (a declaration without a body: a trait method or an extern function).
        j = i
        while j < len(lines):
            text = lines[j].rstrip()
            if text.endswith("{") or (j == i and text.endswith("}")):
                break
            if text.endswith(";"):
                j = None
                break
            j += 1
        if j is None or j >= len(lines):
            continue
        if j == i and lines[i].rstrip().endswith("}") and not lines[i].rstrip().endswith("{"):
            found.append((m.group("name"), i + 1, 1))
            continue
        end = j + 1
        while end < len(lines):
            text = lines[end]
            if text.startswith(indent + "}") and (len(text) == len(indent) or text[len(indent)] == "}"):
                break
            end += 1
        found.append((m.group("name"), i + 1, end - i + 1))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", "src"))
    ap.add_argument("--max-file-lines", type=int, default=800)
    ap.add_argument("--max-fn-lines", type=int, default=150)
    ap.add_argument("--check", action="store_true", help="exit 1 when anything is over a bar")
    args = ap.parse_args()

    root = os.path.normpath(args.root)
    long_files = []
    long_fns = []
    n_files = 0
    n_fns = 0
    for path in rust_files(root):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        rel = os.path.relpath(path, os.path.dirname(root))
        n_files += 1
        code = lines_before_tests(lines)
        if code > args.max_file_lines:
            long_files.append((code, rel))
        for name, line, length in functions(lines):
            n_fns += 1
            if length > args.max_fn_lines:
                long_fns.append((length, f"{rel}:{line}", name))

    print(f"files over {args.max_file_lines} lines before their test module:")
    for code, rel in sorted(long_files, reverse=True):
        print(f"  {code:5}  {rel}")
    print(f"functions over {args.max_fn_lines} lines:")
    for length, place, name in sorted(long_fns, reverse=True):
        print(f"  {length:5}  {place}  {name}")
    print(
        f"{len(long_files)} long files, {len(long_fns)} long functions "
        f"({n_files} files, {n_fns} functions read)"
    )
    if args.check and (long_files or long_fns):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
