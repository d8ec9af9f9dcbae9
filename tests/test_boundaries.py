"""Package boundaries, checked on the real import graph.

Every module under kiosk/, display/ and firmware_bridge/ is parsed with
``ast``.  Every import that names a module of the tree becomes an edge with
its file and line: absolute and relative, at module level or inside a
function (a lazy import still couples two parts), plus the packages Python
runs on the way (``import kiosk.reports.rates`` runs kiosk/reports/__init__).
Dynamic imports (``importlib.import_module``) are not followed.

The ground floor, decided here and written in docs/architecture.md
("Floors"): the ``kiosk.config`` package (every room of it),
``kiosk.contract`` and ``kiosk.sdnotify``, and the bare ``kiosk`` package
they sit in (its __init__ runs with them).  ``kiosk.sdnotify`` belongs there:
it is the systemd notify client that every long-running part uses (core,
kiosk UI, display, bridge, web, aggregator), and it needs nothing but the
standard library.

The rules:

a. display/ and firmware_bridge/ import from kiosk/ only the ground floor.
b. The ground floor imports nothing above it: from the tree only the ground
   floor; outside it only the standard library and pydantic, and in
   ``kiosk.contract`` paho too (the client it builds is how every part
   connects).
c. The queue domain (kiosk/core/domain*) imports no I/O library, and from
   the tree only the ground floor and the domain's own modules.
d. No import cycles among modules.
e. No import runs upward in FLOORS, the floor order of docs/architecture.md
   (a test below checks that the two agree).

The rules name packages and name prefixes, not today's files: a module split
into ``core/store_*.py`` or a ``core/store/`` package keeps the floor of
``kiosk.core.store``.  A module no rule places fails the test until it is
given a floor here and in docs/architecture.md.
"""
from __future__ import annotations

import ast
import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ("kiosk", "display", "firmware_bridge")

# Bottom to top.  A pattern holds the module of that name, everything under
# it and its split rooms (``kiosk.core.store`` holds ``kiosk.core.store_x``
# and ``kiosk.core.store.x``); the longest matching pattern wins.
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("kiosk.config", "kiosk.contract", "kiosk.topics", "kiosk.sdnotify",
                "kiosk.waitwords", "kiosk.durable")),
    # The domain and the store, and the parts that talk to a device, a
    # person or a file without the core's engine.
    ("domain, store and devices", (
        "kiosk.core.domain", "kiosk.core.store", "kiosk.core.schema", "kiosk.core.projection",
        "kiosk.core.read", "kiosk.core.auth",
        "kiosk.core.client",
        "kiosk.printing", "kiosk.phone.token",
        "kiosk.broker", "kiosk.backup", "kiosk.lockout", "kiosk.lockfile", "kiosk.ui", "display",
        "firmware_bridge")),
    ("engine", ("kiosk.core.engine", "kiosk.core.views", "kiosk.core.printq",
                "kiosk.core.commands", "kiosk.core.refusals")),
    ("services", ("kiosk.core.service", "kiosk.demo", "kiosk.web", "kiosk.reports",
                  "kiosk.province", "kiosk.phone")),
    ("cli", ("kiosk.cli",)),
]
# Packages that only group modules: their own __init__, not what is under them.
PACKAGES = {"kiosk": "ground", "kiosk.core": "domain, store and devices",
            "kiosk.phone": "domain, store and devices"}
GROUND = "ground"
# Libraries the ground floor may use besides the standard library, and where.
GROUND_LIBRARIES = {"pydantic": ("kiosk.config", "kiosk.contract"), "paho": ("kiosk.contract",)}
DOMAIN = "kiosk.core.domain"
IO_LIBRARIES = {
    "sqlite3", "sqlite_utils", "psycopg", "dbm", "shelve",
    "os", "pathlib", "shutil", "tempfile", "glob", "io", "fcntl", "mmap",
    "socket", "socketserver", "ssl", "select", "selectors", "asyncio", "http", "urllib",
    "paho", "serial", "usb", "escpos", "termios", "tty", "pty",
    "time", "threading", "multiprocessing", "concurrent", "subprocess", "signal", "logging",
    "kivy", "PIL", "matplotlib", "openpyxl", "starlette", "uvicorn",
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    file: str
    line: int
    explicit: bool      # False: a package run on the way to the target

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Graph:
    files: dict[str, Path]              # module -> file
    edges: list[Edge]                   # edges inside the tree
    outside: list[Edge]                 # imports of what is not in the tree (target: top name)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _within(name: str, pattern: str) -> bool:
    return name == pattern or name.startswith(pattern + ".") or name.startswith(pattern + "_")


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@functools.cache
def graph() -> Graph:
    files = {_module_name(p): p for top in TREE for p in sorted((ROOT / top).rglob("*.py"))}
    edges: list[Edge] = []
    outside: list[Edge] = []

    def known(name: str) -> str | None:
        # ``import a.b.c`` where c is a name, not a module, imports a.b.
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    for module, path in files.items():
        rel = str(path.relative_to(ROOT))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        own = set(_ancestors(module))

        def add(target: str, line: int) -> None:
            if target == module:
                return
            edges.append(Edge(module, target, rel, line, True))
            for parent in _ancestors(target):
                if parent not in own and parent != module:
                    edges.append(Edge(module, parent, rel, line, False))

        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                # ``from p import m`` imports the module p.m when there is one.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            else:
                continue
            for name in targets:
                if name.split(".")[0] in TREE:
                    target = known(name)
                    assert target, f"{rel}:{node.lineno}: imports {name}, which is not in the tree"
                    add(target, node.lineno)
                elif name != "__future__":
                    outside.append(Edge(module, name.split(".")[0], rel, node.lineno, True))
    return Graph(files, edges, outside)


def floor_of(module: str) -> str | None:
    if module in PACKAGES:
        return PACKAGES[module]
    best = None
    for name, patterns in FLOORS:
        for p in patterns:
            if _within(module, p) and (best is None or len(p) > len(best[1])):
                best = (name, p)
    return best[0] if best else None


def rank(floor: str) -> int:
    return [name for name, _ in FLOORS].index(floor)


def fail_with(problems: list[str], rule: str) -> None:
    assert not problems, f"{rule}:\n  " + "\n  ".join(sorted(set(problems)))


def test_every_module_has_a_floor():
    missing = [f"{g.files[m].relative_to(ROOT)}: {m}" for g in [graph()] for m in g.files
               if floor_of(m) is None]
    fail_with(missing, "modules no floor holds (add them to FLOORS here and to "
                       "docs/architecture.md, 'Floors')")


def test_display_and_bridge_import_only_the_ground_floor_of_kiosk():
    bad = [f"{e.where()}: {e.source} imports {e.target} ({floor_of(e.target)} floor)"
           + ("" if e.explicit else ", a package run on the way")
           for e in graph().edges
           if e.source.split(".")[0] in ("display", "firmware_bridge")
           and e.target.split(".")[0] == "kiosk" and floor_of(e.target) != GROUND]
    fail_with(bad, "display/ and firmware_bridge/ may import only the ground floor of kiosk/")


def test_the_ground_floor_imports_nothing_above_it():
    g = graph()
    bad = [f"{e.where()}: {e.source} imports {e.target} ({floor_of(e.target)} floor)"
           + ("" if e.explicit else ", a package run on the way")
           for e in g.edges if floor_of(e.source) == GROUND and floor_of(e.target) != GROUND]
    bad += [f"{e.where()}: {e.source} imports {e.target} (not the standard library"
            + (f"; {e.target} is for {', '.join(GROUND_LIBRARIES[e.target])} only)"
               if e.target in GROUND_LIBRARIES else ")")
            for e in g.outside if floor_of(e.source) == GROUND
            and e.target not in sys.stdlib_module_names
            and not any(_within(e.source, p) for p in GROUND_LIBRARIES.get(e.target, ()))]
    fail_with(bad, "the ground floor imports only the standard library, pydantic (paho in "
                   "kiosk.contract) and the ground floor")


def test_the_domain_imports_no_io():
    g = graph()
    domain = [m for m in g.files if _within(m, DOMAIN)]
    assert domain, f"no module matches {DOMAIN}*: the rule would check nothing"
    bad = [f"{e.where()}: {e.source} imports {e.target} (I/O)"
           for e in g.outside if e.source in domain and e.target in IO_LIBRARIES]
    bad += [f"{e.where()}: {e.source} imports {e.target} (neither the ground floor nor the domain)"
            for e in g.edges if e.source in domain and e.explicit
            and floor_of(e.target) != GROUND and not _within(e.target, DOMAIN)]
    fail_with(bad, "the queue domain is pure")


def test_no_import_cycles():
    g = graph()
    out: dict[str, dict[str, Edge]] = {m: {} for m in g.files}
    for e in g.edges:
        out[e.source].setdefault(e.target, e)
    # Tarjan's strongly connected components, iteratively (no recursion limit).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(out):
        if start in index:
            continue
        work = [(start, iter(sorted(out[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(out[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    problems = []
    for component in cycles:
        loop = _shortest_loop(out, component[0], set(component))
        problems += [f"{out[a][b].where()}: {a} imports {b}" for a, b in zip(loop, loop[1:])]
        problems.append(f"-- closes {' -> '.join(loop)}; tied together: {', '.join(component)}")
    assert not cycles, "import cycles:\n  " + "\n  ".join(problems)


def _shortest_loop(out: dict[str, dict[str, Edge]], start: str, within: set[str]) -> list[str]:
    """The shortest way from ``start`` back to itself, to show where a cycle closes."""
    came_from: dict[str, str] = {}
    todo = [start]
    while todo:
        nxt = []
        for m in todo:
            for t in sorted(out[m]):
                if t not in within:
                    continue
                if t == start:
                    loop = [start, m]
                    while loop[-1] != start:
                        loop.append(came_from[loop[-1]])
                    return loop[::-1]
                if t not in came_from:
                    came_from[t] = m
                    nxt.append(t)
        todo = nxt
    raise AssertionError(f"{start} is in a cycle but no loop was found")


def test_no_import_runs_upward():
    bad = []
    for e in graph().edges:
        a, b = floor_of(e.source), floor_of(e.target)
        if a is not None and b is not None and rank(b) > rank(a):
            bad.append(f"{e.where()}: {e.source} ({a}) imports {e.target} ({b})"
                       + ("" if e.explicit else ", a package run on the way"))
    fail_with(bad, "imports run down the floors only (docs/architecture.md, 'Floors')")


def test_the_floors_here_are_the_floors_in_the_architecture_doc():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Floors", 1)[1].split("\n## ", 1)[0]
    # "Ground floor: `kiosk/config.py` (...), `kiosk/contract.py` ... and `kiosk/sdnotify.py`".
    paragraph = section.strip().split("\n\n", 1)[0]
    named = {re.sub(r"(\.py|/)$", "", p).replace("/", ".")
             for p in re.findall(r"`(kiosk/[a-z_/]+(?:\.py)?)`", paragraph)}
    assert named == set(dict(FLOORS)[GROUND]), (
        f"docs/architecture.md names the ground floor {sorted(named)}, this test {dict(FLOORS)[GROUND]}")
    # The diagram: every "A, B ──▶ C, D" says A and B stand above C and D.
    diagram = section.split("```", 2)[1]
    problems = []
    for chunk in re.split(r"\s{3,}", diagram):
        chunk = chunk.strip(" │└\n")
        if chunk.startswith("──▶"):
            # A branch drawn from the row above: its parts need a floor at least.
            problems += [f"the doc draws {n}, which has no floor here" for n in chunk[3:].split(",")
                         if floor_of(_doc_module(n.strip())) is None]
            continue
        steps = [[n.strip() for n in s.split(",") if n.strip()] for s in chunk.split("──▶")]
        for upper, lower in zip(steps, steps[1:]):
            for a in upper:
                for b in lower:
                    fa, fb = floor_of(_doc_module(a)), floor_of(_doc_module(b))
                    if fa is None or fb is None or rank(fa) <= rank(fb):
                        problems.append(f"the doc draws {a} ──▶ {b}; here {a} is on {fa!r} "
                                        f"and {b} on {fb!r}")
    fail_with(problems, "FLOORS disagrees with docs/architecture.md")


def _doc_module(short: str) -> str:
    # The diagram says "core.engine" for kiosk.core.engine, "display" for display.
    return short if short.split(".")[0] in TREE else f"kiosk.{short}"
