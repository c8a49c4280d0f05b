"""How big the app's code is, tests excluded: non-blank lines, and code lines (no comments, no
docstrings), of webapp/ in the working tree or at git revisions.

    python -m bench.size               # the working tree
    python -m bench.size da23eba HEAD  # each revision, read through `git show`
"""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
NOT_CODE |= {tokenize.ENDMARKER}
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def counts(source: str) -> tuple[int, int]:
    """(non-blank lines, lines holding code other than a docstring) of one module."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, DOCUMENTED) and node.body:
            match node.body[0]:
                case ast.Expr(value=ast.Constant(value=str())) as first:
                    docstrings.update(range(first.lineno, first.end_lineno + 1))
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in NOT_CODE:
            code.update(range(token.start[0], token.end[0] + 1))
    return sum(1 for line in source.splitlines() if line.strip()), len(code - docstrings)


def sources(revision: str | None) -> list[str]:
    if revision is None:
        return [path.read_text() for path in sorted((ROOT / "webapp").rglob("*.py"))]

    def git(*args: str) -> str:
        git_path = shutil.which("git") or "git"
        done = subprocess.run(  # noqa: S603 - git on fixed arguments and a revision we were given
            [git_path, *args], cwd=ROOT, check=True, capture_output=True, text=True
        )
        return done.stdout

    names = git("ls-tree", "-r", "--name-only", revision, "webapp").split()
    return [git("show", f"{revision}:{name}") for name in names if name.endswith(".py")]


def main(revisions: list[str]) -> None:
    for revision in revisions or [None]:
        found = [counts(source) for source in sources(revision)]
        lines, code = sum(n for n, _ in found), sum(c for _, c in found)
        print(
            f"{revision or 'working tree'}: {len(found)} modules, {lines:,} non-blank lines, "
            f"{code:,} code lines"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
