"""Which source files a module depends on, and one digest of them.

A resumed training must not continue a checkpoint made by other code: the digest
of its import closure (read from the source text, so imports inside functions
count too) goes into the checkpoint's fingerprint.
"""

import ast
import hashlib
import importlib.util
from pathlib import Path


def _source(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _is_package(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _imported(path: Path, package: str) -> set[str]:
    """Names of `package` modules that the source file `path` imports (absolute
    imports only: ruff's TID252 refuses relative ones in the project)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module)
            if _is_package(node.module):  # `from hw2.speech import audio`
                out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {
        n
        for n in out
        if (n == package or n.startswith(package + ".")) and _source(n) is not None
    }


def import_closure(*modules: str, package: str = "hw2") -> dict[str, Path]:
    """Module name -> source file, for `modules` and every `package` module they
    import, directly or not, with the packages' __init__ files; sorted by name."""
    found: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        path = _source(name)
        if path is None:
            raise ModuleNotFoundError(f"no Python source for module {name!r}")
        found[name] = path
        todo += _imported(path, package)
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
    return dict(sorted(found.items()))


def code_digest(*modules: str, package: str = "hw2") -> str:
    """SHA-256 over the module names and source bytes of import_closure(modules)."""
    digest = hashlib.sha256()
    for name, path in import_closure(*modules, package=package).items():
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
