"""The README and docs/ stay true to the app: a short README that leads to every page of docs/,
links and images that resolve, every screenshot shown, and a settings table in
docs/operations.md that names exactly the environment variables the code reads."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import webapp
from webapp.common.config import Settings

ROOT = Path(webapp.__file__).parent.parent
APP = Path(webapp.__file__).parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPERATIONS = DOCS / "operations.md"
MAX_README_LINES = 150

ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
# [text](target) and ![alt](target); the target up to a space or the closing parenthesis.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def anchor(heading: str) -> str:
    """The anchor a Markdown heading gets: lowercase, punctuation dropped, spaces as hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = document.read_text(encoding="utf-8")
    return {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


# Which environment variables the code reads, found in the code itself.


def _is_environment(node: ast.AST, mappings: set[str]) -> bool:
    """`os.environ`, or a name bound to the environment (see `environment_names`)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id in mappings


def _mentions_os_environ(node: ast.AST) -> bool:
    return any(_is_environment(inner, set()) for inner in ast.walk(node))


def _env_literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if ENV_NAME.fullmatch(node.value) else None
    return None


def environment_names(source: str) -> set[str]:
    """The environment variables a module reads: a name looked up (`.get`, `[...]`,
    `os.getenv`) in `os.environ`, in a variable made from it, or in a parameter typed
    `Mapping[...]` (how the environment is handed to a function), or handed to a helper together
    with such a mapping (`_seconds(source, "WEBAPP_CACHE_TTL", 5.0)`)."""
    tree = ast.parse(source)
    mappings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _mentions_os_environ(node.value):
                mappings |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.arg) and node.annotation is not None:
            mappings |= {node.arg} if "Mapping[" in ast.unparse(node.annotation) else set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _is_environment(node.value, mappings):
            found.add(_env_literal(node.slice) or "")
        elif isinstance(node, ast.Call):
            func = node.func
            literals = [_env_literal(arg) for arg in node.args]
            looked_up = isinstance(func, ast.Attribute) and (
                _is_environment(func.value, mappings) or func.attr == "getenv"
            )
            if looked_up:
                found.add(literals[0] if literals else "")
            elif any(_is_environment(arg, mappings) for arg in node.args):
                found |= {name for name in literals if name}
    return found - {"", None}


def settings_read_by_the_app() -> dict[str, list[str]]:
    """Every environment variable read anywhere in webapp/, with the modules that read it."""
    read: dict[str, list[str]] = {}
    for module in sorted(APP.rglob("*.py")):
        for name in environment_names(module.read_text(encoding="utf-8")):
            read.setdefault(name, []).append(str(module.relative_to(ROOT)))
    return read


def settings_documented() -> list[str]:
    """The variables named in the first cell of each row of operations.md's settings table."""
    table = section(OPERATIONS.read_text(encoding="utf-8"), "Settings")
    names = []
    for row in table.splitlines():
        if row.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])
    return names


def test_the_settings_reader_finds_every_form_the_code_reads_the_environment_in():
    """The finder behind the settings test: os.environ lookups, os.getenv, a copy of the
    environment, a Mapping parameter and a helper given one; not Flask's config or other dicts."""
    source = """
import os
from collections.abc import Mapping
a = os.environ.get("ONE_A")
b = os.environ["TWO_B"]
c = os.getenv("THREE_C")
source = dict(os.environ)
d = source.get("FOUR_D")
def load(environ: Mapping[str, str]) -> str:
    return environ.get("FIVE_E") or _seconds(environ, "SIX_F", 1.0)
app.config["SECRET_KEY"] = "x"
other = {"NOT_READ": 1}.get("NOT_READ_EITHER")
"""
    assert environment_names(source) == {"ONE_A", "TWO_B", "THREE_C", "FOUR_D", "FIVE_E", "SIX_F"}


def test_the_settings_reader_finds_a_variable_for_every_field_of_the_settings():
    """Settings.load reads one variable per field: a finder that missed some would let the
    documentation test pass on a partial list."""
    in_config = environment_names((APP / "common" / "config.py").read_text(encoding="utf-8"))
    assert len(in_config) >= len(dataclasses.fields(Settings))


def test_every_setting_the_app_reads_is_in_the_operations_settings_table():
    documented = set(settings_documented())
    read = settings_read_by_the_app()
    undocumented = {name: modules for name, modules in read.items() if name not in documented}
    assert undocumented == {}, "add a row to docs/operations.md's settings table for each"


def test_the_settings_table_names_only_settings_the_app_reads_each_once():
    documented = settings_documented()
    read = settings_read_by_the_app()
    assert [name for name in documented if name not in read] == []
    assert sorted(name for name in set(documented) if documented.count(name) > 1) == []


def test_the_readme_is_short_and_starts_with_the_two_set_up_commands():
    """A newcomer reads what it is, then `make run` and `make test`, before anything else."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    assert re.findall(r"^## .*", text, re.MULTILINE)[0] == "## Set-up (fresh machine)"
    assert re.findall(r"`make \w+`", text)[:2] == ["`make run`", "`make test`"]


def test_the_readme_tells_how_to_use_a_real_workspace_and_run_it_for_a_team():
    text = README.read_text(encoding="utf-8")
    workspace = section(text, "Using a real workspace")
    assert "BLAXEL_API_KEY=" in workspace and "BLAXEL_WORKSPACE=" in workspace
    assert "docs/operations.md" in section(text, "Running it for a team")


def test_the_readme_links_every_page_of_the_docs():
    linked = {target.partition("#")[0] for target in LINK.findall(README.read_text("utf-8"))}
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.md")}
    assert pages and pages - linked == set()


def test_every_link_and_image_in_the_readme_and_the_docs_resolves():
    """Relative links point at files that exist (images from docs/ as `screenshots/x.png`), and
    an `#anchor` at a heading of the page it names."""
    broken = []
    for document in documents():
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, fragment = target.partition("#")
            file = (document.parent / path).resolve() if path else document
            if not file.exists() or (fragment and fragment not in anchors(file)):
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert broken == []


def test_every_screenshot_is_shown_by_a_page():
    """Nothing taken for the docs is left unseen: each image in docs/screenshots is linked."""
    shown = set()
    for document in documents():
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            shown.add((document.parent / target).resolve())
    pictures = sorted((DOCS / "screenshots").glob("*.png"))
    assert pictures and [p.name for p in pictures if p.resolve() not in shown] == []
