"""MkDocs hooks: the site's home page is README.md itself, its links into docs/ made relative to the site; and the
docstrings' Sphinx roles (:mod:`x`, :func:`x` ...), which mkdocstrings leaves as text, shown as plain code.

The README links to the documentation as `docs/PAGE.md` (so that they work where the repository is browsed); on the
site the same pages sit next to the home page, so `](docs/` becomes `](`. Any other link the README might hold is
left alone, and `mkdocs build --strict` fails on it if it does not resolve (tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

README = Path(__file__).resolve().parent.parent / "README.md"
SPHINX_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|obj|exc|const):(?=<code)")


def home_markdown() -> str:
    return README.read_text(encoding="utf-8").replace("](docs/", "](")


def on_files(files: Files, config) -> Files:
    if files.get_file_from_path("index.md") is None:
        files.append(File.generated(config, "index.md", content=home_markdown()))
    return files


def on_page_content(html: str, page, config, files) -> str:
    return SPHINX_ROLE.sub("", html)
