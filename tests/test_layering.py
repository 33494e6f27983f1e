"""The layering holds: core → store → services → adapters (cli, web), checked on the imports.

- ``core`` imports nothing of OpenIMR above it and no framework (SQLAlchemy, FastAPI, Typer, ...);
- ``store`` imports only ``core``; ``services`` only ``core`` and ``store``;
- the adapters never import the store nor open a transaction: the services own both;
- the services import no web or terminal framework (starlette, FastAPI, rich, Typer);
- Typer and click only in ``cli``; no import cycle between packages; no ``assert`` as a guard;
- the ``OPENIMR_*`` settings are read in one place, ``services/settings.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "openimr"
FRAMEWORKS = {"sqlalchemy", "fastapi", "starlette", "typer", "click", "jinja2", "alembic", "uvicorn"}
ALLOWED = {
    "core": {"core"},
    "store": {"core", "store"},
    "services": {"core", "store", "services"},
    "web": {"core", "services", "web"},
    "cli": {"core", "services", "web", "cli"},
}
# What only the adapters may import (the web and terminal frameworks).
ADAPTER_FRAMEWORKS = {"starlette", "fastapi", "rich", "typer", "click", "uvicorn"}


def _imports() -> list[tuple[str, Path, int, str]]:
    """(package, file, line, imported module) for every import in the package."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).parts
        package = rel[0] if len(rel) > 1 else "__init__"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(package, path, node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((package, path, node.lineno, node.module))
                if node.module == "openimr":
                    found += [(package, path, node.lineno, f"openimr.{a.name}") for a in node.names]
    return found


IMPORTS = _imports()


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT.parent)}:{line}"


def test_the_packages_are_the_layers() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(layer: str) -> None:
    wrong = [
        f"{_where(path, line)} imports {module}"
        for package, path, line, module in IMPORTS
        if package == layer and module.startswith("openimr.") and module.split(".")[1] not in ALLOWED[layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_core_imports_no_framework() -> None:
    wrong = [
        f"{_where(path, line)} imports {module}"
        for package, path, line, module in IMPORTS
        if package == "core" and module.split(".")[0] in FRAMEWORKS
    ]
    assert not wrong, "\n".join(wrong)


def test_typer_and_click_only_in_the_command_line() -> None:
    wrong = [
        f"{_where(path, line)} imports {module}"
        for package, path, line, module in IMPORTS
        if package != "cli" and module.split(".")[0] in {"typer", "click"}
    ]
    assert not wrong, "\n".join(wrong)


def test_adapters_never_import_the_store() -> None:
    wrong = [
        f"{_where(path, line)} imports {module}"
        for package, path, line, module in IMPORTS
        if package in {"cli", "web"} and module.startswith("openimr.store")
    ]
    assert not wrong, "\n".join(wrong)


def test_adapters_never_open_a_transaction() -> None:
    """No ``.transaction()``, ``.begin()`` or ``.session()`` call in cli/ or web/: each operation of a
    service owns its transaction."""
    wrong = [
        _where(path, node.lineno)
        for package in ("cli", "web")
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"transaction", "begin", "session"}
    ]
    assert not wrong, wrong


def test_services_import_no_web_or_terminal_framework() -> None:
    wrong = [
        f"{_where(path, line)} imports {module}"
        for package, path, line, module in IMPORTS
        if package == "services" and module.split(".")[0] in ADAPTER_FRAMEWORKS
    ]
    assert not wrong, "\n".join(wrong)


# Where the environment's OPENIMR_* variables may be read: the settings, and the one the core reads
# itself (where criteria packs live, for the rules of a process with no application object).
SETTINGS_READERS = {"services/settings.py", "core/guidelines/packs.py"}


def _reads_setting(node: ast.AST) -> bool:
    """Whether *node* reads an environment variable that is an OPENIMR_* one or named by a variable:
    ``os.environ.get(K)``, ``os.getenv(K)`` or ``os.environ[K]``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        target = node.func
        environ = (
            target.attr == "get"
            and isinstance(target.value, ast.Attribute)
            and target.value.attr == "environ"
        )
        if not (environ or target.attr == "getenv"):
            return False
        key = node.args[0]
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        if not (isinstance(node.value, ast.Attribute) and node.value.attr == "environ"):
            return False
        key = node.slice
    else:
        return False
    return not isinstance(key, ast.Constant) or str(key.value).startswith("OPENIMR_")


def test_settings_are_read_in_one_place() -> None:
    wrong = [
        _where(path, node.lineno)
        for path in sorted(ROOT.rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in SETTINGS_READERS
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _reads_setting(node)
    ]
    assert not wrong, wrong


def test_no_import_cycle_between_modules() -> None:
    """Module-level imports form no cycle (imports inside functions are lazy by design)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(("openimr", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        deps = graph.setdefault(name, set())
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("openimr"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("openimr"))
    packages: dict[str, set[str]] = {}
    for module, deps in graph.items():
        top = module.split(".")[1] if module.count(".") else module
        packages.setdefault(top, set()).update(
            d.split(".")[1] for d in deps if d.count(".") and d.split(".")[1] != top
        )
    seen: set[str] = set()

    def cycle_from(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in seen:
            return None
        seen.add(node)
        for nxt in sorted(packages.get(node, ())):
            if found := cycle_from(nxt, [*trail, node]):
                return found
        return None

    cycles = [c for top in sorted(packages) if (c := cycle_from(top, []))]
    assert not cycles, cycles


def test_no_assert_as_a_runtime_guard() -> None:
    found = [
        _where(path, node.lineno)
        for path in sorted(ROOT.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assert)
    ]
    assert not found, found
