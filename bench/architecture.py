#!/usr/bin/env python3
"""The house's figures, run on demand: modules, lines, the largest modules, imports between
flagbot's modules (function-local ones included: they hide arrows, not remove them) and every
circle among them. Prints a Markdown section for docs/architecture.md."""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "flagbot"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """flagbot modules this file imports, anywhere in it (`from flagbot import x` names the
    module x when there is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` names the module; `from m import name`, m
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                for a in node.names
            ]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("flagbot") and name != "flagbot":
                found.add(name)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    files = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in files}
    lines = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    graph = {}
    for p in files:
        own = module_name(p)
        # a package's __init__ importing its own modules is its re-export, not an arrow back
        graph[own] = {m for m in imports(p, modules) if m != own}
    sys.setrecursionlimit(10_000)
    found = circles(graph)
    edges = sum(len(v) for v in graph.values())
    print(f"## {time.strftime('%Y-%m-%d')}: the house in figures (bench/architecture.py)\n")
    print(
        f"- modules: {len(modules)}; lines: {sum(lines.values()):,}; imports between them: {edges}"
    )
    print(
        "- largest: "
        + ", ".join(f"{m} {n}" for m, n in sorted(lines.items(), key=lambda x: -x[1])[:5])
    )
    print(f"- circles: {len(found)}" + "".join(f"\n  - {' ↔ '.join(c)}" for c in found))
    store_imports = sorted(
        {d for m, deps in graph.items() if m.startswith("flagbot.store") for d in deps}
        - {m for m in modules if m.startswith("flagbot.store")}
    )
    print(f"- what the store imports: {', '.join(store_imports)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
