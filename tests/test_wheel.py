"""The built wheel, installed in a fresh virtual environment with no source tree in sight, serves
pages and static files through its console command: beside the test environment's packages, and
alone with the dependencies it declares, as a user installs it (and as `make serve` does)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .production_server import ROOT, clean_environ, fetch, running

pytestmark = pytest.mark.slow

# What the build reads: the project file, the README it points to and the three folders.
BUILD_INPUTS = ("pyproject.toml", "README.md", "webapp", "templates", "static")


def run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=600,  # an install that resolves dependencies from the package index
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def copy_source(into: Path, names: tuple[str, ...] = BUILD_INPUTS) -> Path:
    """A copy of the files `names` of the checkout (what a fresh clone holds of them)."""
    into.mkdir(parents=True)
    for name in names:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, into / name)
    return into


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the source (the build writes build/ and *.egg-info beside
    its input), without a package index."""
    work = tmp_path_factory.mktemp("wheel")
    source = copy_source(work / "source")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-w",
        work / "dist",
        source,
        cwd=work,
    )
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment holding only the wheel; its dependencies come from the test
    environment's site-packages through a .pth file, which does not run that environment's
    editable-install hook, so the source tree cannot be found."""
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-index",
        "--no-deps",
        wheel,
        cwd=work,
    )
    site_packages = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=work
        ).strip()
    )
    (site_packages / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


def serves_a_page_and_static_files(command: list[str], cwd: Path, log: Path) -> None:
    """`command` starts the production server: it answers a page and the static files."""
    with running(log, command, cwd=cwd, WEB_CONCURRENCY="1") as base:
        page = fetch(base + "/")
        stylesheet = fetch(base + "/static/app.css")
        script = fetch(base + "/static/htmx-2.0.11.min.js")
    assert page[0] == 200 and page[1]["Content-Type"] == "text/html; charset=utf-8"
    assert "Blaxel jobs" in page[2]
    assert 'href="/static/app.css?v=' in page[2]  # the versioned URL: static files were found
    assert stylesheet[0] == 200 and stylesheet[1]["Content-Type"].startswith("text/css")
    assert stylesheet[2] == (ROOT / "static" / "app.css").read_text()
    assert script[0] == 200 and "javascript" in script[1]["Content-Type"]


def test_the_installed_package_is_the_wheel_not_the_source_tree(installed, tmp_path):
    where = run(
        installed / "bin" / "python", "-c", "import webapp; print(webapp.__file__)", cwd=tmp_path
    )
    assert Path(where.strip()).is_relative_to(installed)


def test_the_console_command_lists_its_commands(installed, tmp_path):
    usage = run(installed / "bin" / "blaxel-jobs", "--help", cwd=tmp_path)
    assert all(command in usage for command in ("serve", "demo", "add-user"))


def test_the_installed_server_serves_a_page_and_a_static_file(installed, tmp_path):
    command = [str(installed / "bin" / "blaxel-jobs"), "serve"]
    serves_a_page_and_static_files(command, tmp_path, tmp_path / "server.log")


def test_a_plain_install_of_the_wheel_starts_the_production_server(wheel, tmp_path):
    """`pip install` of the wheel alone, its dependencies resolved as a user's would be and no
    test extras beside them, is enough for `blaxel-jobs serve` (gunicorn's gevent worker
    imports `packaging`, which only its `gevent` extra declares)."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    extras = run(venv / "bin" / "python", "-m", "pip", "list", "--format=freeze", cwd=tmp_path)
    assert not any(line.lower().startswith(("pytest", "playwright")) for line in extras.split())
    command = [str(venv / "bin" / "blaxel-jobs"), "serve"]
    serves_a_page_and_static_files(command, tmp_path, tmp_path / "server.log")


def test_make_serve_in_a_fresh_copy_installs_what_serving_needs_and_serves(tmp_path):
    """`make serve` in a fresh clone, where no test run installed anything, makes its own
    virtual environment with the app's dependencies only and starts the production server."""
    clone = copy_source(tmp_path / "clone", (*BUILD_INPUTS, "Makefile"))
    run("make", "--no-print-directory", "-C", clone, ".venv/.app-installed", cwd=clone)
    assert not (clone / ".venv" / ".test-installed").exists()
    serves_a_page_and_static_files(["make", "serve"], clone, tmp_path / "server.log")


def test_the_installed_command_adds_a_user(installed, tmp_path):
    users = tmp_path / "users"
    done = subprocess.run(
        [installed / "bin" / "blaxel-jobs", "add-user", "ada"],
        cwd=tmp_path,
        env=clean_environ(WEBAPP_USERS_FILE=str(users)),
        input="long enough pw\nlong enough pw\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert users.read_text().startswith("ada:scrypt:")
