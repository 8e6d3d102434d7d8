#!/usr/bin/env python3
"""The file-level import graph of src/: import circles and imports that run back up the layers.

Reads every `src/**/*.rs`, resolves to the FILE it names each path that leaves the file:
`use crate::…` / `use super::…` / `use self::…` / `use child::…` (a child module's name),
`crate::a::b` and `super::x` paths written in code, and in the binary (`main.rs`, `cli/`)
`ivt::…` paths into the library. A module's own submodules are its parts, not its imports:
`mod.rs` (or `a.rs` for the files under `a/`) naming or re-exporting its children is the
module tree, so only the children's imports of their parent (`super::…`) count. A path resolves to the deepest module file that exists
(`crate::knn::exact::squared_norms` → `src/knn/exact.rs`, `crate::knn::KnnGraph` →
`src/knn/mod.rs`, the file that names it there, re-export or not). Test code is left out: inline
`#[cfg(test)] mod … { … }` blocks and files that are `#[cfg(test)] mod …;`. Comments and string
literals are blanked first; `mod` declarations are not imports.

Prints
- the import circles: strongly connected components of more than one file, each with the
  arrows inside it;
- the imports that run back up the layer order below (a file importing a file of a higher
  layer); imports within one layer are fine unless they close a circle;
- the counts.

`--check` exits 1 when the circles or the upward imports exceed `--max-circles` /
`--max-up` (defaults 0 and 1: issue #37's goal), so CI can hold the line.

Python 3 standard library only, so it runs anywhere the repository is checked out, without a
build: the graph is read from the text, not from rustc, which is why macros that build paths
are not seen (none of ours name a module).

Counts on the tree before issue #37 (05fc528): 6 circles (15 files), 4 upward imports (9 file
arrows: dataset → projector, knn → cluster, knn → layout, knn → metrics), 366 file-to-file
imports, 99 files. After the library's ground floor (house-lib: numeric/, dataset/names.rs,
dataset/projector/): 3 circles (7 files: cli/ and viewer/ only), 0 upward imports. With the
CLI's common module and the viewer's state.rs (main, 2026-12-07): 0 circles, 0 upward imports,
480 file-to-file imports, 122 files. `.ci/run` runs `--check`.
"""

import argparse
import os
import re
import sys

# The house, ground floor first: each entry is one floor; a module may import its own floor
# and the floors before it. The ground floor's modules use nothing above them and import each
# other freely (a circle would still be reported); above it each module is a floor of its own,
# in the order the house is built, so `knn` may use `dataset` but not `metrics` or `layout`.
# A file's floor is that of its first module below the crate root (`src/knn/ivf.rs` → knn);
# the binary crate (main.rs, cli/) is the top floor.
LAYERS = [
    ("ground", ["numeric", "rng", "progress", "atomic", "payload", "synth", "choice", "hint", ""]),
    ("npy", ["npy"]),
    ("cache", ["cache"]),
    ("dataset", ["dataset"]),
    ("knn", ["knn"]),
    ("metrics", ["metrics"]),
    ("layout", ["layout"]),
    ("cluster", ["cluster"]),
    ("quality", ["quality"]),
    ("search", ["search"]),
    ("labels", ["labels"]),
    ("probe", ["probe"]),
    ("thumbs", ["thumbs"]),
    ("embed", ["embed"]),
    ("projector", ["projector"]),
    ("viewer", ["viewer"]),
    ("cli", ["cli", "<bin>"]),
]
LAYER_OF = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}

# The binary crate: its root and the modules it declares itself.
BIN_ROOT = "main.rs"
BIN_MODULES = {"cli"}
LIB_NAME = "ivt"


def blank_comments_and_strings(text):
    """Comments and the contents of string/char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not (
            i and (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1:j]) + '"')
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a): only the former is blanked.
            m = re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x..|.)|[^\\'])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(text, open_at):
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*([{;])")


def strip_test_code(text):
    """Inline test modules removed; also returns the names of `#[cfg(test)] mod x;` files."""
    test_files = set()
    while True:
        m = CFG_TEST.search(text)
        if not m:
            return text, test_files
        if m.group(2) == ";":
            test_files.add(m.group(1))
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end():]
        else:
            end = matching_brace(text, m.end() - 1)
            text = text[: m.start()] + re.sub(r"[^\n]", " ", text[m.start(): end + 1]) + text[end + 1:]


def expand_use_tree(tree):
    """`a::{b, c::{d, e as f}, self}` → [[a, b], [a, c, d], [a, c, e], [a]]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    paths = []

    def walk(prefix, s):
        for part in split_top(s):
            if not part:
                continue
            brace = part.find("{")
            if brace >= 0:
                head = [p for p in part[:brace].split("::") if p]
                walk(prefix + head, part[brace + 1: part.rfind("}")])
            else:
                segs = [p for p in part.split("::") if p]
                if segs == ["self"]:
                    paths.append(prefix)
                elif segs and segs[-1] == "*":
                    paths.append(prefix + segs[:-1])
                else:
                    paths.append(prefix + segs)

    walk([], tree)
    return paths


def split_top(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


USE = re.compile(r"(?<![\w:])use\s+([^;]+);")
CODE_PATH = re.compile(r"(?<![\w:])((?:crate|super|self|" + LIB_NAME + r")(?:::(?:super|\w+))+)")


class Crate:
    """One crate's files by module path."""

    def __init__(self, name):
        self.name = name
        self.files = {}  # tuple(module path) -> file path (relative to the repo)


def module_path(rel):
    """src/a/b.rs → ('a', 'b'), src/a/mod.rs → ('a',), src/lib.rs / main.rs → ()."""
    parts = rel[len("src/"):-len(".rs")].split("/")
    if parts[-1] == "mod" or parts == ["lib"] or parts == ["main"]:
        parts = parts[:-1]
    return tuple(parts)


def build(root):
    lib, binary = Crate("lib"), Crate("bin")
    sources = {}
    for dirpath, _, names in os.walk(os.path.join(root, "src")):
        for name in sorted(names):
            if name.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
                with open(os.path.join(root, rel), encoding="utf-8") as f:
                    sources[rel] = f.read()
    for rel in sources:
        mod = module_path(rel)
        in_bin = rel == "src/" + BIN_ROOT or (mod and mod[0] in BIN_MODULES)
        (binary if in_bin else lib).files[mod] = rel

    cleaned, test_files = {}, set()
    for rel, text in sources.items():
        text, tests = strip_test_code(blank_comments_and_strings(text))
        cleaned[rel] = text
        mod = module_path(rel)
        for t in tests:
            test_files.add(mod + (t,))

    edges = {}  # (from, to) -> list of the paths that made it
    for rel, text in cleaned.items():
        mod = module_path(rel)
        crate = binary if rel in binary.files.values() else lib
        if crate.files.get(mod) == rel and mod in test_files:
            continue
        # The module the file's relative paths start from: a file `a/b.rs` is module a::b;
        # `super` is a, `self` is a::b.
        paths = []
        for m in USE.finditer(text):
            paths.extend(expand_use_tree(m.group(1)))
        code = USE.sub(lambda m: " " * len(m.group(0)), text)
        for m in CODE_PATH.finditer(code):
            paths.append(m.group(1).split("::"))
        for segs in paths:
            target = resolve(segs, mod, crate, lib, test_files)
            # A module's own submodules are its parts, not its imports: `mod.rs` naming or
            # re-exporting its children is the module tree, so only the children's imports
            # of their parent (`super::…`) count.
            if target and target != rel and not is_descendant(target, rel):
                edges.setdefault((rel, target), []).append("::".join(segs))
    files = sorted(f for c in (lib, binary) for m, f in c.files.items() if m not in test_files)
    return files, edges


def is_descendant(target, rel):
    """Whether file `target` is a submodule (at any depth) of the module that `rel` is: below
    the folder of a `mod.rs` (or of the crate root), or below `a/b/` for a file `a/b.rs`."""
    if rel.endswith(("/mod.rs", "src/lib.rs", "src/main.rs")):
        folder = rel.rsplit("/", 1)[0] + "/"
    else:
        folder = rel[: -len(".rs")] + "/"
    return target.startswith(folder)


def resolve(segs, mod, crate, lib, test_files):
    if not segs:
        return None
    if segs[0] == LIB_NAME and crate.name == "bin":
        crate, absolute = lib, list(segs[1:])
    elif segs[0] == "crate":
        absolute = list(segs[1:])
    elif segs[0] in ("self", "super"):
        absolute = list(mod)
        for s in segs:
            if s == "super":
                absolute = absolute[:-1]
            elif s != "self":
                break
        rest = list(segs)
        while rest and rest[0] in ("self", "super"):
            rest.pop(0)
        absolute += rest
    elif tuple(mod) + (segs[0],) in crate.files:
        absolute = list(mod) + list(segs)  # a child module named without `self::`
    else:
        return None  # std, another crate, or a local name
    for k in range(len(absolute), -1, -1):
        prefix = tuple(absolute[:k])
        if prefix in crate.files and prefix not in test_files:
            return crate.files[prefix]
    return None


def top_module(rel):
    """The module below the crate root a file belongs to (`""` for lib.rs, `<bin>` for main.rs)."""
    if rel == "src/" + BIN_ROOT:
        return "<bin>"
    mod = module_path(rel)
    return mod[0] if mod else ""


def layer(rel):
    return LAYER_OF.get(top_module(rel), None)


def circles(files, edges):
    """Tarjan's strongly connected components with more than one file."""
    graph = {f: sorted({t for (s, t) in edges if s == f}) for f in files}
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        # Iterative, so deep graphs do not hit Python's recursion limit.
        work = [(v, iter(graph.get(v, [])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(graph.get(w, []))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for f in files:
        if f not in index:
            visit(f)
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--check", action="store_true", help="exit 1 above the limits")
    ap.add_argument("--max-circles", type=int, default=0)
    ap.add_argument("--max-up", type=int, default=1)
    ap.add_argument("--edges", action="store_true", help="also list every file-to-file import")
    args = ap.parse_args()

    files, edges = build(os.path.abspath(args.root))
    short = lambda f: f[len("src/"):]
    comps = circles(files, edges)
    print(f"import circles: {len(comps)}")
    for comp in comps:
        members = set(comp)
        print("  " + " <-> ".join(short(f) for f in comp))
        for (s, t), why in sorted(edges.items()):
            if s in members and t in members:
                print(f"      {short(s)} -> {short(t)}  ({', '.join(sorted(set(why)))})")
    # An upward import is counted once per pair of modules (knn → metrics), whatever the
    # number of files on each side; the file arrows are listed under it.
    up = {}
    for (s, t) in sorted(edges):
        if layer(s) is not None and layer(t) is not None and layer(s) < layer(t):
            up.setdefault((top_module(s), top_module(t)), []).append((s, t))
    print(f"imports running back up the layers: {len(up)}")
    for (a, b), arrows in sorted(up.items(), key=lambda kv: (layer(kv[1][0][0]), kv[0])):
        print(f"  {a} -> {b}")
        for s, t in arrows:
            print(f"      {short(s)} -> {short(t)}  ({', '.join(sorted(set(edges[(s, t)])))})")
    unlayered = sorted({f for f in files if layer(f) is None})
    if unlayered:
        print("files in no layer (add them to LAYERS): " + ", ".join(short(f) for f in unlayered))
    if args.edges:
        for (s, t) in sorted(edges):
            print(f"  {short(s)} -> {short(t)}")
    print(
        f"counts: {len(comps)} circles ({sum(len(c) for c in comps)} files), {len(up)} upward "
        f"imports ({sum(len(a) for a in up.values())} file arrows), {len(edges)} file-to-file "
        f"imports, {len(files)} files"
    )
    if args.check and (len(comps) > args.max_circles or len(up) > args.max_up or unlayered):
        print(
            f"check failed: limits are {args.max_circles} circles and {args.max_up} upward imports",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
