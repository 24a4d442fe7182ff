"""Write the repository address (pyproject.toml, [project.urls] Repository) into the course files.

Usage: ``python scripts/colab_links.py`` rewrites; ``--check`` only reports (a test runs it).

- every notebook: an "Open in Colab" badge on the line after its title;
- every notebook: the setup cell's ``%pip install "course_lib @ git+<repository>.git"``;
- README.md: the badge column of the course map.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\([^)]*\)")
PIP_RE = re.compile(r'"course_lib @ git\+[^"]*"')


def repository() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["project"]["urls"]["Repository"].rstrip("/")


def badge(repo: str, notebook: str) -> str:
    path = repo.removeprefix("https://github.com/")
    return f"[![Open in Colab]({BADGE_IMAGE})](https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook})"


def fix_notebook(nb: nbformat.NotebookNode, name: str, repo: str) -> list[str]:
    """Update ``nb`` in place; return what was wrong."""
    problems = []
    title_cell = nb.cells[0]
    lines = title_cell.source.splitlines()
    wanted = badge(repo, name)
    if len(lines) > 2 and BADGE_RE.fullmatch(lines[2]):
        if lines[2] != wanted:
            problems.append("badge points elsewhere")
            lines[2] = wanted
    else:
        problems.append("no Colab badge under the title")
        lines[1:1] = ["", wanted]
    title_cell.source = "\n".join(lines)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    pip = f'"course_lib @ git+{repo}.git"'
    if pip not in setup.source:
        problems.append("setup cell installs from another address")
        setup.source = PIP_RE.sub(pip, setup.source)
    return problems


def fix_readme(text: str, repo: str) -> tuple[str, list[str]]:
    """Each course-map row ``| NN | [name](notebooks/NN_name.ipynb) | ...`` ends with its badge."""
    out, problems = [], []
    for line in text.splitlines():
        m = re.match(r"\| (\d\d) \| \[[^\]]+\]\(notebooks/([^)]+\.ipynb)\) \|", line)
        if m:
            cells = line.rstrip().rstrip("|").split(" | ")
            wanted = badge(repo, m.group(2))
            if BADGE_RE.fullmatch(cells[-1].strip()):
                if cells[-1].strip() != wanted:
                    problems.append(f"README row {m.group(1)}: badge points elsewhere")
                    cells[-1] = wanted
            else:
                problems.append(f"README row {m.group(1)}: no badge")
                cells.append(wanted)
            line = " | ".join(cells) + " |"
        out.append(line)
    return "\n".join(out) + "\n", problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 when something is out of date")
    args = parser.parse_args(argv)
    repo = repository()
    problems = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        found = fix_notebook(nb, path.name, repo)
        problems += [f"{path.name}: {p}" for p in found]
        if found and not args.check:
            nbformat.write(nb, path)
    readme = ROOT / "README.md"
    text, found = fix_readme(readme.read_text(), repo)
    problems += found
    if found and not args.check:
        readme.write_text(text)
    for p in problems:
        print(p)
    print(f"{len(problems)} link problem(s) {'found' if args.check else 'fixed'}; repository {repo}")
    return 1 if (args.check and problems) else 0


if __name__ == "__main__":
    sys.exit(main())
