"""The architecture the code promises (docs/architecture.md), checked on the source itself:
the core crate builds without pyo3, and no two Rust modules depend on each other."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USE_PATH = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")


def rust_modules(src):
    """`a::b` module path -> source text, for every .rs file under `src`."""
    modules = {}
    for path in src.rglob("*.rs"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] in ("mod", "lib"):
            parts = parts[:-1]
        modules["::".join(parts)] = path.read_text()
    return modules


def target(modules, current, path):
    """The module a `crate::`/`super::`/`self::` path names (the longest existing prefix)."""
    segments = path.split("::")
    here = current.split("::") if current else []
    if segments[0] == "crate":
        base, segments = [], segments[1:]
    elif segments[0] == "self":
        base, segments = here, segments[1:]
    else:
        base = here
        while segments and segments[0] == "super":
            base, segments = base[:-1], segments[1:]
    candidate = base + segments
    for end in range(len(candidate), 0, -1):
        name = "::".join(candidate[:end])
        if name in modules:
            return name
    return None


def dependency_graph(src):
    modules = rust_modules(src)
    graph = {name: set() for name in modules}
    for name, text in modules.items():
        for path in USE_PATH.findall(text):
            dep = target(modules, name, path)
            related = dep == name or name.startswith(f"{dep}::") or dep.startswith(f"{name}::")
            if dep is not None and not related:
                graph[name].add(dep)
    return graph


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("src", ["src", "mite-core/src"])
def test_no_two_rust_modules_depend_on_each_other(src):
    assert cycles(dependency_graph(ROOT / src)) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    (tmp_path / "lib.rs").write_text("mod a;\nmod b;\n")
    (tmp_path / "a.rs").write_text("use crate::b::B;\n")
    (tmp_path / "b.rs").write_text("use super::a::A;\n")
    assert cycles(dependency_graph(tmp_path)) == [["a", "b"]]


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_the_core_crate_has_no_pyo3_in_its_dependency_tree():
    tree = subprocess.run(
        ["cargo", "tree", "-p", "mite-core", "-e", "normal,build", "--prefix", "none"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    crates = {line.split()[0] for line in tree.splitlines() if line.strip()}
    assert "mite-core" in crates
    assert not {name for name in crates if name.startswith("pyo3")}
