"""The package uses its dependencies through their public API only: no private names, no internal aiohttp modules.

An AST scan of every module in whatsable_cli/: imports of a dependency's private module or name, attribute
reads of private names (on a name bound to a dependency, or of any `_name` a dependency defines and this
package does not), and any aiohttp module or name beyond `aiohttp` and `aiohttp.web` and what they export.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "whatsable_cli"
DEPENDENCIES = frozenset({"aiohttp", "httpx", "typer", "click", "rich", "pyngrok", "yarl", "multidict", "platformdirs"})
PUBLIC_AIOHTTP_MODULES = frozenset({"aiohttp", "aiohttp.web"})
# Underscore names the standard library documents as public API (namedtuple's and enum's, os._exit).
DOCUMENTED_UNDERSCORE = frozenset(
    {"_asdict", "_replace", "_fields", "_field_defaults", "_make", "_exit", "_missing_", "_value_", "_name_"}
)
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def is_private(name: str) -> bool:
    """`_x` and `__x` are private; dunders (`__version__`, `__name__`) are public protocol names."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def defined_private_names(tree: ast.AST) -> set[str]:
    """Every private name a module defines: functions, classes, assigned names and attributes, __slots__."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Store):
            found.add(node.id if isinstance(node, ast.Name) else node.attr)
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__slots__" for target in node.targets
        ):
            found |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return {name for name in found if is_private(name)}


def _parse(path: Path) -> ast.AST | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return None  # a file for another Python version: nothing of it can be used from here anyway


@functools.cache
def dependency_private_names() -> frozenset[str]:
    """The private names the installed dependencies define (their sources and stubs)."""
    found: set[str] = set()
    for name in sorted(DEPENDENCIES):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            for path in [*Path(folder).rglob("*.py"), *Path(folder).rglob("*.pyi")]:
                tree = _parse(path)
                if tree is not None:
                    found |= defined_private_names(tree)
    return frozenset(found)


@functools.cache
def aiohttp_exports() -> dict[str, frozenset[str]]:
    """What each public aiohttp module exports (its __all__); `aiohttp.web` is itself public."""
    import aiohttp
    import aiohttp.web

    return {"aiohttp": frozenset({*aiohttp.__all__, "web"}), "aiohttp.web": frozenset(aiohttp.web.__all__)}


@functools.cache
def package_private_names() -> frozenset[str]:
    """Private names defined anywhere in the package: one module may use another's, and that is ours."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = _parse(path)
        if tree is not None:
            found |= defined_private_names(tree)
    return frozenset(found)


@dataclass
class Scan:
    """One module's violations; `own` are private names this package defines (never a dependency's)."""

    filename: str
    own: frozenset[str]
    foreign: frozenset[str]
    exports: dict[str, frozenset[str]]
    bound: dict[str, str] = field(default_factory=dict)  # local name -> the dependency path it is bound to
    found: list[str] = field(default_factory=list)

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.filename}:{getattr(node, 'lineno', 0)}: {what}")

    # -- imports --------------------------------------------------------------------------------------------
    def check_module(self, node: ast.AST, module: str) -> bool:
        """True when `module` belongs to a dependency; reports a private or non-public one."""
        parts = module.split(".")
        if parts[0] not in DEPENDENCIES:
            return False
        if any(is_private(part) for part in parts):
            self.report(node, f"imports {module}, a private module of {parts[0]}")
        elif parts[0] == "aiohttp" and module not in PUBLIC_AIOHTTP_MODULES:
            self.report(node, f"imports {module}, not public aiohttp (use aiohttp or aiohttp.web)")
        return True

    def visit_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if self.check_module(node, alias.name):
                if alias.asname:
                    self.bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.bound[top] = top

    def visit_import_from(self, node: ast.ImportFrom) -> None:
        if node.level or node.module is None or not self.check_module(node, node.module):
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            if is_private(alias.name):
                self.report(node, f"imports {alias.name} from {node.module}: a private name")
            elif node.module in self.exports and alias.name not in self.exports[node.module]:
                self.report(node, f"imports {alias.name} from {node.module}, which does not export it")
            self.bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    # -- attribute reads ----------------------------------------------------------------------------------
    def resolve(self, node: ast.expr) -> str | None:
        """The dependency path an expression names (`web.Application` -> aiohttp.web.Application), or None."""
        if isinstance(node, ast.Name):
            return self.bound.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        return None

    def check_attribute(self, node: ast.AST, value: ast.expr, name: str) -> None:
        base = self.resolve(value)
        if base is not None:
            if is_private(name):
                self.report(node, f"uses {base}.{name}: a private name of {base.split('.')[0]}")
            elif base in self.exports and name not in self.exports[base] and not name.startswith("__"):
                self.report(node, f"uses {base}.{name}, which {base} does not export")
        elif is_private(name) and name in self.foreign and name not in self.own and name not in DOCUMENTED_UNDERSCORE:
            self.report(node, f"uses .{name}: a private name a dependency defines and this package does not")

    def run(self, tree: ast.AST) -> list[str]:
        # Bindings first, whatever their scope: the package imports lazily, inside functions.
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                self.visit_import(node)
            elif isinstance(node, ast.ImportFrom):
                self.visit_import_from(node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                self.check_attribute(node, node.value, node.attr)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ATTRIBUTE_FUNCTIONS
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                self.check_attribute(node, node.args[0], node.args[1].value)
        return self.found


def scan_source(source: str, filename: str = "<source>", own: Iterable[str] = ()) -> list[str]:
    """Violations in one module's source; `own` adds private names defined elsewhere in the package."""
    tree = ast.parse(source, filename=filename)
    mine = frozenset(own) | defined_private_names(tree)
    return Scan(filename, mine, dependency_private_names(), aiohttp_exports()).run(tree)


def package_modules() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", list(package_modules()), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_module_uses_only_public_api_of_its_dependencies(module: Path) -> None:
    found = scan_source(module.read_text(encoding="utf-8"), str(module.relative_to(PACKAGE.parent)))
    assert found == [], "\n".join(found)


def test_the_scan_sees_every_module() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in package_modules()}
    assert {"tunnel/ngrok.py", "webhooks/signing.py", "cli.py"} <= names
    assert "_print_progress_enabled" in dependency_private_names()  # the dependencies' sources were read
    assert "_reading_paused" in dependency_private_names()


# -- the scanner itself, on planted violations -------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from pyngrok.process import _current_processes", "a private name"),
        ("from pyngrok import installer\ninstaller._print_progress_enabled = False", "pyngrok.installer."),
        (
            "def f(config):\n    from pyngrok import process\n    return process._current_processes.get(config)",
            "pyngrok.process._current_processes",
        ),
        ("import pyngrok.process as p\np._current_processes", "pyngrok.process._current_processes"),
        ("import httpx._client", "private module of httpx"),
        ("from rich._loop import loop_last", "private module of rich"),
        ("import aiohttp.http", "not public aiohttp"),
        ("from aiohttp.http import HttpRequestParser", "not public aiohttp"),
        ("from aiohttp.streams import StreamReader", "not public aiohttp"),
        ("from aiohttp.web_protocol import RequestHandler", "not public aiohttp"),
        ("from aiohttp.http_parser import HttpRequestParser", "not public aiohttp"),
        ("from aiohttp import http", "does not export it"),
        ("import aiohttp\nparser = aiohttp.http.HttpRequestParser", "aiohttp.http, which aiohttp does not export"),
        ("from aiohttp import web\nweb.web_protocol", "which aiohttp.web does not export"),
        ("def paused(reader):\n    return reader._reading_paused", "uses ._reading_paused"),
        ("def f(proc):\n    return getattr(proc, '_current_processes')", "uses ._current_processes"),
        ("from pyngrok import installer\nsetattr(installer, '_print_progress_enabled', False)", "a private name"),
    ],
)
def test_scanner_finds_a_planted_violation(source: str, expected: str) -> None:
    found = scan_source(source)
    assert len(found) == 1, found
    assert expected in found[0]


@pytest.mark.parametrize(
    "source",
    [
        "import aiohttp\nsession = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1))",
        "from aiohttp import web\napp = web.Application()\nweb.TCPSite",
        "import aiohttp.web\naiohttp.web.AppRunner",
        "import aiohttp\nprint(aiohttp.__version__)",
        "from pyngrok import conf, ngrok, process\nprocess.is_process_running('x')\nngrok.kill()",
        "from pyngrok.exception import PyngrokError",
        "import typer\nfrom typer.testing import CliRunner",
        "from rich.console import Console\nConsole()._x_is_ours = 1",  # ours: defined right here
        "class T:\n    def __init__(self):\n        self._config = None\n    def c(self):\n        return self._config",
        "from collections import namedtuple\nP = namedtuple('P', 'a')\nP(1)._replace(a=2)._asdict()",
        "import os\nos._exit(0)",
        "from whatsable_cli import tunnel\ntunnel.NgrokTunnel",
        "from . import sibling\nsibling._helper()",
    ],
)
def test_scanner_passes_clean_code(source: str) -> None:
    assert scan_source(source) == []


def test_a_private_name_defined_elsewhere_in_the_package_is_ours() -> None:
    source = "def f(listener):\n    return listener._connector"  # `_connector` is also one of aiohttp's
    assert scan_source(source) != []
    assert scan_source(source, own=["_connector"]) == []
