"""The shape the code keeps: the Blaxel package is a closed box the web app uses, and the
module map of docs/architecture.md names every module."""

from __future__ import annotations

import ast
from pathlib import Path

import webapp.blaxel

PACKAGE = Path(webapp.blaxel.__file__).parent
# What the Blaxel package may import besides the standard library and itself.
ALLOWED_THIRD_PARTY = {"httpx", "httpcore", "msgspec", "redis"}
WEB_LIBRARIES = {"flask", "jinja2", "werkzeug", "markupsafe", "itsdangerous", "click"}


def imported_modules(source: Path) -> list[tuple[int, str]]:
    """(level, module) of every import in a file; level > 0 for relative imports."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or ""))
    return found


def test_the_blaxel_package_imports_nothing_of_the_web_app_or_flask():
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 8
    for source in files:
        for level, module in imported_modules(source):
            top = module.split(".")[0]
            where = f"{source.name}: {'.' * level}{module}"
            assert level <= 1, where  # relative imports stay inside the package
            assert top not in WEB_LIBRARIES, where
            assert level == 1 or top != "webapp" or module.startswith("webapp.blaxel"), where


def test_the_blaxel_package_depends_only_on_its_named_libraries():
    import sys

    for source in PACKAGE.glob("*.py"):
        for level, module in imported_modules(source):
            top = module.split(".")[0]
            if level or top in sys.stdlib_module_names or top == "__future__":
                continue
            assert top in ALLOWED_THIRD_PARTY, f"{source.name}: {module}"


def test_the_module_map_of_the_architecture_page_names_every_module_of_the_app():
    app = Path(webapp.__file__).parent
    page = (app.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = page.index("\n## The module map\n")
    module_map = page[start : page.index("\n## ", start + 1)]
    unnamed = [
        str(module.relative_to(app))
        for module in sorted(app.rglob("*.py"))
        if f"`{module.name}`" not in module_map and f"`{module.relative_to(app)}`" not in module_map
    ]
    assert unnamed == []
