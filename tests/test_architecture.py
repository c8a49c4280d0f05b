"""The shape the code keeps: the Blaxel package is a closed box the web app uses, and the
module map of docs/architecture.md is the folder list, one line per package."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import webapp.blaxel

PACKAGE = Path(webapp.blaxel.__file__).parent
APP = PACKAGE.parent
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


def module_map() -> str:
    page = (APP.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = page.index("\n## The module map\n")
    return page[start : page.index("\n## ", start + 1)]


def packages() -> list[str]:
    """The app's packages, the folder list: every folder of webapp/ with an `__init__.py`."""
    return sorted(f"{init.parent.name}/" for init in APP.glob("*/__init__.py"))


def test_the_module_map_is_the_folder_list_one_line_per_package():
    """Each package of webapp/ has its one line in the module map of docs/architecture.md, and
    each line of the map names a package there or one it marks as planned."""
    lines = re.findall(r"^\| `(\w+/)` \| (.*) \|$", module_map(), re.M)
    named = [name for name, _ in lines]
    assert len(named) == len(set(named)), named
    assert [name for name in packages() if name not in named] == []
    planned = {name for name, what in lines if what.startswith("Planned:")}
    assert [name for name in named if name not in packages() and name not in planned] == []


def test_every_module_of_a_package_is_named_in_its_line():
    """A module of the app is named (`name.py`) in the map, so its area says what it holds."""
    text = module_map()
    unnamed = [
        str(module.relative_to(APP))
        for module in sorted(APP.rglob("*.py"))
        if module.name != "__init__.py" and f"`{module.name}`" not in text
    ]
    assert unnamed == []


AREAS = ("listing", "failures", "health", "logs", "runs", "operate")
# The modules that hold an area's routes (its blueprints).
ROUTES = {
    "listing": {"jobs", "executions", "tasks"},
    "logs": {"routes"},
    "runs": {"views"},
    "operate": {"routes"},
}


def app_modules() -> list[Path]:
    """Every module of the app but the two closed packages, which have tests of their own."""
    return [
        source
        for source in sorted(APP.rglob("*.py"))
        if source.relative_to(APP).parts[0] not in ("blaxel", "simulator")
    ]


def absolute_imports(source: Path) -> list[str]:
    """Every module a file imports, as a dotted name from `webapp` (relative ones resolved), with
    each name of a `from` import too (it may be a module: `from ..listing import tasks`)."""
    here = source.relative_to(APP.parent).with_suffix("").parts
    package = here if source.name == "__init__.py" else here[:-1]
    names = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - (node.level - 1)]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_no_area_imports_the_routes_of_another():
    """An area uses another's logic, never its views: routes are the top of their area, and only
    the shell (web/routes.py) registers them."""
    for source in app_modules():
        area = source.relative_to(APP).parts[0]
        if area == "web":
            continue
        for name in absolute_imports(source):
            parts = name.split(".")
            if len(parts) >= 3 and parts[0] == "webapp" and parts[1] in ROUTES:
                other, module = parts[1], parts[2]
                assert other == area or module not in ROUTES[other], f"{source}: {name}"


def test_only_the_services_module_reads_the_apps_extensions():
    """Settings, clock and client are read typed, through webapp/common/services.py: no other
    module reads an app's extensions (Flask-Compress is only put there)."""
    reads = re.compile(r"current_app\.extensions|\.extensions\[[^\]]+\](?!\s*=[^=])")
    readers = [
        str(source.relative_to(APP))
        for source in app_modules()
        if reads.search(source.read_text(encoding="utf-8"))
    ]
    assert readers == ["common/services.py"]


def test_no_view_chooses_what_to_render_by_the_element_that_asked():
    """Fragments ask for what they want by URL; no code reads htmx's HX-Trigger or HX-Target."""
    for source in app_modules():
        text = source.read_text(encoding="utf-8")
        assert "HX-Trigger" not in text and "HX-Target" not in text, source


def config_keys_read(source: Path) -> list[str]:
    """The keys a module reads from a Flask config: `….config["KEY"]`, `….config.get("KEY")`."""
    keys = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            target, key = node.value, node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target, key = node.func.value if node.func.attr == "get" else None, node.args[0]
        else:
            continue
        if isinstance(target, ast.Attribute) and target.attr == "config":
            keys.append(key.value if isinstance(key, ast.Constant) else ast.unparse(key))
    return keys


def test_the_app_reads_no_config_key_outside_the_settings():
    """What the app reads comes from its Settings; test doubles (clock, transport, readiness
    TTL, ...) are arguments of create_app. The Flask config is read only for Flask's own keys
    and its extensions' (CSRF, compression)."""
    from flask import Flask

    own = set(Flask.default_config)
    read = {
        f"{source.relative_to(APP)}: {key}"
        for source in app_modules()
        for key in config_keys_read(source)
        if key not in own and not key.startswith(("WTF_", "COMPRESS_"))
    }
    assert read == set()


HIERARCHY = (
    "jobs.index",
    "executions.index",
    "tasks.index",
    "tasks.task",
    "logs.page",
    "logs.search_page",
)


def test_no_template_builds_a_url_of_the_hierarchy_itself():
    """Links to a job, an execution, a task or its logs come from the one URL builder
    (`urls.job(...)`, `urls.crumbs(...)`, ...), never from url_for in a template."""
    templates = APP.parent / "templates"
    calls = re.compile(r"url_for\(\s*['\"]([\w.]+)['\"]")
    direct = [
        f"{page.name}: {endpoint}"
        for page in sorted(templates.glob("*.html"))
        for endpoint in calls.findall(page.read_text(encoding="utf-8"))
        if endpoint in HIERARCHY
    ]
    assert len(list(templates.glob("*.html"))) > 20
    assert direct == []


APP_JS = APP.parent / "static" / "app.js"
# The sections of app.js: its areas in the order of webapp/'s packages, then the wiring.
APP_JS_SECTIONS = [
    "Shell",
    "Listing",
    "Failures",
    "Health and timeline",
    "Logs",
    "Runs",
    "Operate",
    "Wiring",
]


def test_app_js_has_a_section_per_area_in_the_order_of_the_packages():
    """static/app.js reads by area: a `// ==== Area ====` header for each, in the order of
    webapp/'s packages (shell first), and the wiring of its listeners last."""
    headers = re.findall(r"^// ==== (.+) ====$", APP_JS.read_text(encoding="utf-8"), re.M)
    assert headers == APP_JS_SECTIONS


def test_app_js_listens_once_per_event_on_the_page_in_its_wiring():
    """Every listener of app.js is on `document` or `window`, added in the wiring section, with
    its event named literally, and no event has two listeners on the same one: what a page's
    script does on an event is the one line of the wiring that lists its handlers."""
    script = APP_JS.read_text(encoding="utf-8")
    calls = [
        (call.start(), call["target"], call["event"])
        for call in re.finditer(
            r"(?P<target>[\w.$\[\]()]+)\s*\.\s*addEventListener\(\s*(?P<event>[^,)]*)", script
        )
    ]
    assert len(calls) >= 15
    assert [target for _, target, _ in calls if target not in ("document", "window")] == []
    assert [event for _, _, event in calls if not re.fullmatch(r'"[\w:.-]+"', event)] == []
    added = Counter((target, event) for _, target, event in calls)
    assert [listener for listener, times in added.items() if times > 1] == []
    wiring = script.find("\n// ==== Wiring ====\n")
    assert wiring > 0
    assert [(target, event) for at, target, event in calls if at < wiring] == []
