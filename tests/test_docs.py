"""The documentation site (issue 21): `mkdocs build --strict`, as `make docs` runs it, builds once here, so a broken
link or anchor, a page in docs/ missing from the nav, a nav entry without its page or a docstring mkdocstrings cannot
read fails the suite. The home page is the README itself (scripts/mkdocs_hooks.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ._cli import REPO


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith(("WARNING", "ERROR"))]
    assert proc.returncode == 0 and not warnings, f"mkdocs build --strict failed:\n{proc.stderr[-4000:]}"
    return out


@pytest.mark.slow
def test_the_site_builds_in_strict_mode_with_every_page(site):
    nav_pages = re.findall(r":\s*([\w/]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), flags=re.M)
    assert "index.md" in nav_pages and "api/codec.md" in nav_pages
    for page in nav_pages:
        assert (site / page.replace(".md", ".html")).is_file(), f"{page} was not built"


@pytest.mark.slow
def test_the_home_page_is_the_readme_with_working_links(site):
    home = (site / "index.html").read_text()
    assert "make demo" in home and "make test" in home
    assert 'href="training.html#accuracy-on-the-synthetic-set"' in home  # README's docs/ links, made site-relative
    assert 'src="show_zoom_in.png"' in home and (site / "show_zoom_in.png").is_file()


@pytest.mark.slow
def test_the_api_reference_comes_from_the_docstrings(site):
    for package, name in [("codec", "read_clip"), ("data", "load_split"), ("models", "create_model"),
                          ("runtime", "Deployment"), ("energy", "count_ops")]:
        page = (site / "api" / f"{package}.html").read_text()
        assert f'id="neurocv.{package}.{name}"' in page, f"neurocv.{package}.{name} is not documented"
