"""Where the templates and static files are: inside the installed package (a wheel), or at the
top of the source tree (a checkout, editable installs included)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def folder(name: str) -> Path:
    installed = PACKAGE / name
    return installed if installed.is_dir() else PACKAGE.parent / name


TEMPLATES = folder("templates")
STATIC = folder("static")
