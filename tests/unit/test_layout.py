"""The layout the packaging promises: every module is imported as switchboard.<folder>..., the
router never imports the components, and every package folder ships in the wheel."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the folders mapped into the switchboard namespace (setup.cfg package_dir)
FOLDERS = ("bridge", "components", "router")
OLD_IMPORT = re.compile(r"^\s*(?:from|import)\s+(?:bridge|components|router)(?:[.\s]|$)", re.M)


def python_files():
    for folder in (*FOLDERS, "tests", "bench", "examples"):
        yield from (ROOT / folder).rglob("*.py")


def test_nothing_imports_the_folders_by_their_bare_names():
    """A bare `import router` would load a second copy of a module beside switchboard.router's."""
    offenders = [str(p.relative_to(ROOT)) for p in python_files() if OLD_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_router_does_not_import_the_components():
    uses = re.compile(r"^\s*(?:from|import)\s+switchboard\.components\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "router").rglob("*.py")
                 if uses.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


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
