"""The house's shape (issue 24), checked on every run with bench/architecture.py's own reading
of the imports: no circle between flagbot's modules (function-local imports count), the store
imports no detector and no policy, and no module grows past the size a reader can hold."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "architecture.py"
MAX_LINES = 650


def figures():
    spec = importlib.util.spec_from_file_location("architecture", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files = sorted(module.ROOT.rglob("*.py"))
    modules = {module.module_name(p) for p in files}
    graph = {
        module.module_name(p): module.imports(p, modules) - {module.module_name(p)} for p in files
    }
    return module, files, graph


def test_no_circle_between_modules():
    module, _files, graph = figures()
    assert module.circles(graph) == []
    # the reader sees a hidden circle: a function-local import back is one
    assert module.circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_store_imports_no_detector_and_no_policy():
    _module, _files, graph = figures()
    store = {m: deps for m, deps in graph.items() if m.startswith("flagbot.store")}
    assert store, "the store package was not found"
    below = {"flagbot.errors", "flagbot.events", "flagbot.files", "flagbot.scoring"}
    for name, deps in store.items():
        outside = {d for d in deps if not d.startswith("flagbot.store")}
        assert outside <= below, f"{name} imports {sorted(outside - below)}"


def test_no_module_past_the_size_a_reader_can_hold():
    _module, files, _graph = figures()
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    assert max(sizes.values()) <= MAX_LINES, sorted(sizes.items(), key=lambda x: -x[1])[:3]
