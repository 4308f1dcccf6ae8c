"""The layout the packaging promises: every module is imported as switchboard.<folder>..., the
router never imports the components, and every package folder ships in the wheel."""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the folders mapped into the switchboard namespace (setup.cfg package_dir)
FOLDERS = ("bridge", "components", "router")


def python_files(*folders):
    for folder in folders:
        yield from (ROOT / folder).rglob("*.py")


def imported(path: Path) -> set[str]:
    """Every module name `path` imports (absolute imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_nothing_imports_the_folders_by_their_bare_names():
    """A bare `import router` would load a second copy of a module beside switchboard.router's."""
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in imported(p) if n.split(".")[0] in FOLDERS)
        for p in python_files(*FOLDERS, "tests", "bench", "examples")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_nothing_runs_the_folders_by_their_bare_names():
    """`python -m router` works only from the checkout's root, and loads the bare copy."""
    bare = [f'"-m", "{folder}' for folder in FOLDERS] + [f"-m {folder}" for folder in FOLDERS]
    offenders = [
        str(p.relative_to(ROOT))
        for p in python_files(*FOLDERS, "tests", "bench", "examples")
        if any(b + ending in p.read_text(encoding="utf-8") for b in bare for ending in ('"', ".", " "))
    ]
    assert offenders == []


def test_the_router_does_not_import_the_components():
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in imported(p) if n.startswith("switchboard.components"))
        for p in python_files("router")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_package_folder_is_in_the_wheel():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(cfg["options"]["packages"].split())
    mapping = dict(line.split(" = ") for line in cfg["options"]["package_dir"].strip().splitlines())
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                found.add(".".join([package, *init.parent.relative_to(ROOT / folder).parts]))
    assert found <= listed, found - listed


def test_loading_the_pytest_plugin_leaves_txaio_unchosen():
    """pytest loads the plugin in every test run of a project that installs Switchboard: it must not
    pick asyncio for txaio there (a Twisted project's tests would break), nor load the hub."""
    from tests.fresh_python import run_code

    run_code("""
import sys
import txaio
import switchboard.router.testing.pytest_plugin
assert not (txaio.using_twisted or txaio.using_asyncio), "txaio was switched"
assert "switchboard.router.client" not in sys.modules and "switchboard.router.testing.hub" not in sys.modules
""")
