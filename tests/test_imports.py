"""No import circle in the library: every import of every module in src/hw2, at
the top of the file or inside a function, read from the source."""

import ast
from pathlib import Path

import networkx as nx  # DVC's own graph library

SRC = Path(__file__).resolve().parents[1] / "src"


def modules() -> dict[str, Path]:
    """Module name -> source file, for every module of the hw2 package."""
    out = {}
    for path in sorted((SRC / "hw2").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The hw2 modules that module `name` imports, anywhere in its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the enclosing package, level-1 up
                parts = package.split(".")
                root = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{root}.{base}" if base else root
            for alias in node.names:  # `from hw2.speech import audio`: a module
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return (found & known) - {name}


def cycles(graph: dict[str, set[str]]) -> list[str]:
    """One line per group of modules that import each other (a strongly connected
    component): a circle from the group's first module, and the whole group."""
    g = nx.DiGraph(sorted((a, b) for a, targets in graph.items() for b in targets))
    out = []
    for group in sorted(map(sorted, nx.strongly_connected_components(g))):
        if len(group) > 1:
            edges = nx.find_cycle(g.subgraph(group), source=group[0])
            circle = " -> ".join([a for a, _ in edges] + [edges[0][0]])
            out.append(f"{circle} (the group: {', '.join(group)})")
    return out


def test_the_graph_reads_imports_inside_functions_and_relative_ones(tmp_path):
    pkg = tmp_path / "hw2" / "a"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "x.py").write_text("def f():\n    from hw2.a import y\n")
    (pkg / "y.py").write_text("from . import z\nimport hw2.a.x\n")
    (pkg / "z.py").write_text("from .w import g\n")
    (pkg / "w.py").write_text("g = 1\n")
    files = {f"hw2.a.{p.stem}": p for p in pkg.glob("?.py")}
    graph = {m: imports(m, path, set(files)) for m, path in files.items()}
    assert graph == {
        "hw2.a.x": {"hw2.a.y"},
        "hw2.a.y": {"hw2.a.z", "hw2.a.x"},
        "hw2.a.z": {"hw2.a.w"},
        "hw2.a.w": set(),
    }
    assert cycles(graph) == [
        "hw2.a.x -> hw2.a.y -> hw2.a.x (the group: hw2.a.x, hw2.a.y)"
    ]
    del graph["hw2.a.y"]
    assert cycles(graph) == []


def test_no_import_circle_in_the_library():
    found = modules()
    graph = {name: imports(name, path, set(found)) for name, path in found.items()}
    circles = cycles(graph)
    assert circles == [], "import circles:\n" + "\n".join(circles)
