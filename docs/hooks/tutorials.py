"""MkDocs hook: render the Jupytext percent-format tutorials in tutorials/ as documentation pages.

Markdown cells become prose and code cells become Python code blocks. The scripts are not
executed here: the test suite runs every tutorial, so the build stays fast and offline.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
CELL = re.compile(r"^# %%(?P<rest>.*)$")


def percent_to_markdown(source: str, name: str) -> str:
    """Convert a percent-format script to Markdown: prose from markdown cells, code blocks otherwise."""
    lines = source.splitlines()
    if lines and lines[0].strip() == "# ---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "# ---"), 0)
        lines = lines[end + 1:]
    cells: list[tuple[str, list[str]]] = []
    kind, body = "code", []
    for line in lines:
        match = CELL.match(line)
        if match:
            cells.append((kind, body))
            kind = "markdown" if "[markdown]" in match["rest"] else "code"
            body = []
        else:
            body.append(line)
    cells.append((kind, body))

    parts = []
    for kind, body in cells:
        while body and not body[0].strip():
            body = body[1:]
        while body and not body[-1].strip():
            body = body[:-1]
        if not body:
            continue
        if kind == "markdown":
            parts.append("\n".join(re.sub(r"^# ?", "", line) for line in body))
        else:
            parts.append("```python\n" + "\n".join(body) + "\n```")
    source_note = (
        f'!!! note "Run it yourself"\n'
        f"    This page is the script `tutorials/{name}`. Run it with "
        f"`python tutorials/{name}`, or open it as a notebook after `pip install jupytext` "
        f"(Jupyter opens percent-format scripts as notebooks). Set "
        f"`DISCRETE_CHOICE_TUTORIAL_SMALL=1` for the reduced size the test suite uses."
    )
    title, rest = parts[0], parts[1:]
    return "\n\n".join([title, source_note, *rest]) + "\n"


def on_files(files, config):
    for path in sorted(TUTORIALS.glob("[0-9]*.py")):
        content = percent_to_markdown(path.read_text(encoding="utf-8"), path.name)
        files.append(File.generated(config, f"tutorials/{path.stem}.md", content=content))
    return files
