"""Every third-party module the installed package imports is a declared dependency of it.

Reads the imports of the package's own source (the installed copy, or ``--src`` for a checkout),
maps each top-level module to the distributions that provide it in this environment, and checks
that one of them is in pudong-qa's ``Requires-Dist`` (its extras left out). A module that no
installed distribution provides is reported too: the command importing it would fail here.

    python scripts/check_imports.py            # exit 1 and the list when something is missing
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

PACKAGE, DIST = "pudong_qa", "pudong-qa"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> set[str]:
    """pudong-qa's own dependencies, without those of its extras (tests)."""
    out = set()
    for req in requires(DIST) or []:
        if "extra ==" in req.replace('"', "'").replace("extra==", "extra =="):
            continue
        out.add(canonical(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0]))
    return out


def imported(src: Path) -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere in the package, with the files importing them."""
    found: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != PACKAGE:
                    found.setdefault(top, set()).add(path.relative_to(src.parent).as_posix())
    return found


def problems(src: Path) -> list[str]:
    providers, wanted = packages_distributions(), declared()
    out = []
    for module, files in sorted(imported(src).items()):
        dists = {canonical(d) for d in providers.get(module, [])}
        where = ", ".join(sorted(files)[:3])
        if not dists:
            out.append(f"{module}: imported by {where} but no installed distribution provides it")
        elif not dists & wanted:
            out.append(f"{module}: imported by {where}; provided by {', '.join(sorted(dists))}, "
                       f"which {DIST} does not declare")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=None, help="the package folder (default: the installed one)")
    args = parser.parse_args()
    if args.src is None:
        import pudong_qa

        args.src = Path(pudong_qa.__file__).parent
    found = problems(args.src)
    for line in found:
        print(f"undeclared import: {line}", file=sys.stderr)
    if not found:
        print(f"imports ok: every third-party module {args.src} imports is a declared dependency of {DIST}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
