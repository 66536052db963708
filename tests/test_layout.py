"""The folder tree is the architecture: these tests keep it honest as the code grows.

- No import cycles inside ``grader/`` (function-level imports count: a lazy import is still a
  dependency, and a cycle hidden in a function is still a cycle).
- The untrusted side (``grader/untrusted/``, the code that runs inside the sandbox next to the
  student's) imports nothing of the grader but the wire format, ``grader.wire.protocol``.
- ``api.py`` holds the user verbs only: no process plumbing (fork, waitpid, pipes, select).

Each checker is tested on a small package made for the purpose, so that it is shown to fail.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
UNTRUSTED = "grader.untrusted"
WIRE_FORMAT = "grader.wire.protocol"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in the file)."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    top = root.name

    def resolve(name: str) -> str | None:
        while name and name not in modules:  # `from grader.x import f`: f is not a module
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        base = base.rpartition(".")[0]
                    prefix = f"{base}.{node.module}" if node.module else base
                else:
                    prefix = node.module or ""
                targets = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
            for target in targets:
                if target == top or target.startswith(top + "."):
                    found = resolve(target)
                    if found and found != name:
                        deps.add(found)
        # Importing grader.a.b runs grader/__init__ and grader/a/__init__ first, except those
        # that enclose this module (already running by the time this module runs).
        for dep in list(deps):
            parent = dep.rpartition(".")[0]
            while parent:
                if parent in modules and not (name + ".").startswith(parent + "."):
                    deps.add(parent)
                parent = parent.rpartition(".")[0]
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, frontier = set(), [start]
    while frontier:
        for dep in graph.get(frontier.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                frontier.append(dep)
    return seen


def boundary_violations(graph, untrusted: str, allowed: str) -> dict[str, set[str]]:
    """Untrusted modules -> the grader modules they reach beyond the wire format and the
    (import-free) packages above it."""
    allowed_set = {allowed} | {allowed.rsplit(".", i)[0] for i in range(1, allowed.count(".") + 1)}
    bad = {}
    for name in graph:
        if name == untrusted or name.startswith(untrusted + "."):
            inside = {m for m in reachable(graph, name)
                      if not (m == untrusted or m.startswith(untrusted + "."))}
            if extra := inside - allowed_set:
                bad[name] = extra
    return bad


# -- the real package ------------------------------------------------------------------------

def test_no_import_cycles_in_the_grader():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_untrusted_side_imports_only_the_wire_format():
    graph = import_graph(PACKAGE)
    assert any(m.startswith(UNTRUSTED + ".") for m in graph), "grader/untrusted/ is missing"
    assert boundary_violations(graph, UNTRUSTED, WIRE_FORMAT) == {}
    # ... and the wire format, with the packages it sits in, imports nothing of the grader.
    for name in ("grader", "grader.wire", WIRE_FORMAT):
        assert graph[name] <= {"grader", "grader.wire"}, (name, graph[name])


def test_nothing_trusted_is_imported_by_the_sandbox_side_at_start_up():
    """The worker's boot line names the untrusted module itself (not a trusted one that would
    then import it)."""
    text = (PACKAGE / "sandbox" / "local.py").read_text(encoding="utf-8")
    assert 'entry: str = "grader.untrusted.worker"' in text


def test_api_has_only_the_user_verbs():
    tree = ast.parse((PACKAGE / "api.py").read_text(encoding="utf-8"))
    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names}
    plumbing = {"fork", "waitpid", "pipe", "pidfd_open", "select", "kill", "killpg", "dup2"}
    assert used & plumbing == set()


# -- the checkers fail when they should ------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "grader"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_a_cycle_through_a_lazy_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "api.py": "from grader.course import validate\n",
        "course/__init__.py": "",
        "course/validate.py": "def f():\n    from grader import api\n    return api\n",
    })
    assert find_cycle(import_graph(root)) == ["grader.api", "grader.course.validate",
                                              "grader.api"]


def test_a_relative_import_cycle_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "a/__init__.py": "",
        "a/x.py": "from .y import g\n", "a/y.py": "from . import x\n",
    })
    assert find_cycle(import_graph(root)) is not None


def test_a_package_importing_its_own_modules_is_no_cycle(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "batch/__init__.py": "from grader.batch.run import batch\n",
        "batch/run.py": "from grader.batch.tasks import grade_one\n", "batch/tasks.py": "",
    })
    assert find_cycle(import_graph(root)) is None
    (root / "batch" / "tasks.py").write_text("from grader.batch import batch\n")
    assert find_cycle(import_graph(root)) is not None


def test_an_untrusted_import_of_trusted_code_is_found(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "untrusted/__init__.py": "", "wire/__init__.py": "",
        "untrusted/worker.py": "from grader.wire import protocol\nfrom grader import helper\n",
        "wire/protocol.py": "import json\n",
        "helper.py": "from grader.sandbox import local\n",
        "sandbox/__init__.py": "", "sandbox/local.py": "",
    })
    bad = boundary_violations(import_graph(root), "grader.untrusted", "grader.wire.protocol")
    assert bad == {"grader.untrusted.worker": {"grader.helper", "grader.sandbox",
                                               "grader.sandbox.local"}}


def test_the_wire_format_alone_is_allowed(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "", "untrusted/__init__.py": "", "wire/__init__.py": "",
        "untrusted/worker.py": "from grader.wire import protocol\n",
        "wire/protocol.py": "import numpy\n",
    })
    assert boundary_violations(import_graph(root), "grader.untrusted", "grader.wire.protocol") == {}
