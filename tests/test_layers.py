"""The layer order in ``kcomplexity/__init__.py``'s docstring, enforced on every import (read with ``ast``).

A module's layer is that of its top-level name under ``kcomplexity`` (``kcomplexity.io.readers``
is in ``io``). An import may point to the same layer or below, never up; function-level
imports count. The module graph has no cycle. ``encodings`` and ``coders`` never import torch.
"""
import ast
import re
from pathlib import Path

import pytest

import kcomplexity

PACKAGE = Path(kcomplexity.__file__).parent
ROOT = "kcomplexity"


def layer_order() -> dict[str, int]:
    """``{top-level name: rank}`` from the docstring's ``Layers`` block (``a, b -> c -> ...``)."""
    block = kcomplexity.__doc__.split("Layers", 1)[1].split("\n\n", 2)[1]
    ranks = {}
    for rank, layer in enumerate(" ".join(block.split()).split("->")):
        for name in re.split(r"[,/]", layer):
            ranks[name.strip()] = rank
    return ranks


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py*")) if p.suffix in (".py", ".pyi")}  # .pyi: C modules


def _known(name: str) -> str:
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports(module: str) -> set[str]:
    """kcomplexity modules that ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {_known(a.name) for a in node.names if a.name.split(".")[0] == ROOT}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + [node.module or ""])
            else:
                base = node.module or ""
            base = base.rstrip(".")
            if base.split(".")[0] == ROOT:
                found |= {_known(f"{base}.{a.name}") for a in node.names}
    return found - {module}


def layer(module: str, ranks: dict) -> int:
    top = ROOT if module == ROOT else module.split(".")[1]
    if top not in ranks:
        raise AssertionError(f"{module}: {top!r} has no layer; add it to the Layers block of kcomplexity/__init__.py")
    return ranks[top]


GRAPH = {m: imports(m) for m in MODULES}


def test_the_docstring_names_every_layer_of_the_house():
    ranks = layer_order()
    assert ranks["errors"] == ranks["arrays"] < ranks["encodings"] == ranks["io"] < ranks["coders"]
    assert ranks["coders"] < ranks["registry"] == ranks["estimators"] < ranks["variants"] == ranks["analysis"]
    assert ranks["analysis"] < ranks["plot"] < ranks["train"] < ranks["demo"] < ranks["cli"]
    assert all(layer(m, ranks) >= 0 for m in MODULES)  # every module has a layer


def upward_imports(graph: dict[str, set[str]], ranks: dict) -> list[str]:
    return [f"{m} (layer {layer(m, ranks)}) imports {t} (layer {layer(t, ranks)})"
            for m, targets in sorted(graph.items()) for t in sorted(targets) if layer(t, ranks) > layer(m, ranks)]


def test_no_import_points_up_the_layer_order():
    assert upward_imports(GRAPH, layer_order()) == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    return next((c for n in sorted(graph) if n not in state and (c := visit(n))), None)


def test_there_is_no_import_cycle():
    assert find_cycle(GRAPH) is None


def test_the_checks_catch_an_upward_import_and_a_cycle():
    ranks = layer_order()
    assert upward_imports({"kcomplexity.analysis.cache": {"kcomplexity"}, "kcomplexity.io": {"kcomplexity.errors"}},
                          ranks) == [f"kcomplexity.analysis.cache (layer 4) imports kcomplexity (layer {ranks[ROOT]})"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert "kcomplexity.analysis.cache" in imports("kcomplexity.analysis._analyse")  # relative imports resolved
    assert "kcomplexity.io.readers" in imports("kcomplexity.io.series")


@pytest.mark.parametrize("package", ["encodings", "coders"])
def test_the_core_never_imports_torch(package):
    offenders = []
    for module, path in MODULES.items():
        if module.split(".")[1:2] != [package]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] == "torch"]
    assert offenders == []
