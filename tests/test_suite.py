"""The suite's own promises: a newcomer's `pytest` runs without Playwright or redis-server and
says what `make test` adds; `make test` (--require-all) runs every test or fails."""

from __future__ import annotations

import subprocess
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from . import browser
from .conftest import needs

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def test_no_test_module_imports_playwright_until_a_browser_test_runs():
    """Every test module (browser ones included) imports without Playwright or axe being
    loaded: a virtual environment without them still collects and runs the other tests."""
    modules = sorted(f"tests.{path.stem}" for path in TESTS.glob("*.py"))
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'playwright', 'axe_playwright_python'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert len(modules) > 40
    assert result.stdout.strip() == "[]"


def test_a_missing_tool_skips_with_a_reason_that_names_make_test(pytestconfig, monkeypatch):
    monkeypatch.setattr(pytestconfig.option, "require_all", False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        needs(pytestconfig, ["redis-server"])
    assert str(skipped.value) == (
        "needs redis-server: `make test` installs what is missing and runs it"
    )


def test_under_require_all_a_missing_tool_fails_its_test(pytestconfig, monkeypatch):
    monkeypatch.setattr(pytestconfig.option, "require_all", True)
    with pytest.raises(pytest.fail.Exception, match="needs Playwright: `make test`"):
        needs(pytestconfig, ["Playwright"])


def test_nothing_missing_neither_skips_nor_fails(pytestconfig):
    assert needs(pytestconfig, []) is None


def test_browser_tests_name_what_they_lack(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nowhere/chromium")
    # Only Playwright missing, whatever this machine has.
    monkeypatch.setattr(
        browser.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "playwright" else ModuleSpec(name, None),
    )
    assert browser.missing_for_browser_tests() == ["Playwright", "Chromium at /nowhere/chromium"]


SKIPPING = """
import pytest

def test_that_runs():
    pass

def test_that_skips():
    pytest.skip("for want of something")
"""

# The suite's own hooks, in a throw-away project run by pytester.
HOOKS = "from tests.conftest import pytest_addoption, pytest_configure  # noqa: F401\n"


@pytest.mark.parametrize(("options", "status"), [((), 0), (("--require-all",), 1)])
def test_a_skipped_test_fails_the_run_only_under_require_all(
    pytester, monkeypatch, options, status
):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(HOOKS)
    pytester.makepyfile(test_skipping=SKIPPING)
    result = pytester.runpytest_subprocess(*options)
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == status
    if status:
        result.stdout.fnmatch_lines(
            ["*--require-all: 1 skipped, and every test must run here: *test_that_skips*"]
        )


def test_make_test_runs_pytest_with_require_all():
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "-m pytest" in recipe and "--require-all" in recipe
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
