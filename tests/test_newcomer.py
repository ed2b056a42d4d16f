"""The README as a newcomer reads it (issue 12): its "first hour" block runs line by line, verbatim, from a folder
outside the repository; and every `neurocv ...` command line in a code block of the README or of any page under docs/
(the documentation site, issue 21) names a real command and only options that command has. The documentation and
the CLI cannot drift apart without this test failing."""

from __future__ import annotations

import re
import shlex

import pytest

from ._cli import NEUROCV, REPO, assert_ok, user_run

README = (REPO / "README.md").read_text()
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
MARK = "<!-- newcomer-walkthrough -->"


def _walkthrough() -> list[str]:
    block = README.split(MARK, 1)[1].split("```", 2)[1]
    return [ln for ln in block.splitlines() if ln.strip()]


def _synopsis_lines() -> list:
    """Every `neurocv ...` command line of the README and of docs/, as pytest params named FILE:LINE: the lines of
    fenced code blocks that start with `neurocv ` (with the indented `[--option ...]` lines that continue them) and
    the inline code spans of the prose that do."""
    params = []
    for path in DOCS:
        text = path.read_text()
        fenced, last = False, None
        for number, ln in enumerate(text.splitlines(), 1):
            if ln.lstrip().startswith("```"):
                fenced, last = not fenced, None
            elif fenced and ln.startswith("neurocv "):
                last = [ln.split("  #")[0].strip(), f"{path.relative_to(REPO)}:{number}"]
                params.append(last)
            elif fenced and last and ln[:1].isspace() and ln.lstrip()[:1] in "[-":
                last[0] += " " + ln.split("  #")[0].strip()
            else:
                last = None
        prose = re.sub(r"```.*?```", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
        for span in re.finditer(r"`(neurocv [a-z][^`]*)`", prose):
            number = prose[:span.start()].count("\n") + 1
            params.append([" ".join(span.group(1).split()), f"{path.relative_to(REPO)}:{number}"])
    seen: dict[str, int] = {}
    out = []
    for line, where in params:  # a second span on the same line gets `#2`
        seen[where] = seen.get(where, 0) + 1
        out.append(pytest.param(line, id=where if seen[where] == 1 else f"{where}#{seen[where]}"))
    return out


def test_the_docs_have_command_lines_to_check():
    files = {p.id.split(":")[0] for p in _synopsis_lines()}
    assert {"README.md", "docs/reading.md", "docs/training.md", "docs/deployment.md", "docs/energy.md"} <= files


def test_the_walkthrough_is_there():
    lines = _walkthrough()
    assert len(lines) >= 10 and all(ln.startswith("neurocv ") for ln in lines)
    assert {ln.split()[1] for ln in lines} >= {"synth", "train", "eval", "export", "run", "energy"}


def test_first_hour_runs_verbatim_from_another_folder(tmp_path):
    expect = {"extract": "clip.npz", "show": "show/overview.png", "train": "run/best.pt",
              "eval": "run/eval/confusion.png", "export": "deploy/manifest.json", "run": "ops.json",
              "energy": "energy.png", "cache": "data/cache"}
    for line in _walkthrough():
        args = shlex.split(line)[1:]
        proc = assert_ok(user_run(tmp_path, *args))
        want = expect.get(args[0])
        if want and not (args[0] == "energy" and "--plot" not in args):
            assert (tmp_path / want).exists(), f"`{line}` did not write {want}"
        if args[0] in ("eval", "predict", "run"):
            assert "zoom_in" in proc.stdout or "top-1" in proc.stdout


@pytest.fixture(scope="module")
def helps(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("help")
    cache: dict[str, str] = {}

    def get(cmd: str) -> str:
        if cmd not in cache:
            cache[cmd] = assert_ok(user_run(cwd, cmd, "--help")).stdout
        return cache[cmd]

    return get


@pytest.mark.parametrize("line", _synopsis_lines())
def test_every_documented_command_line_matches_the_cli(line, helps):
    # `<the test split's videos>` in prose is a placeholder, not shell quoting
    tokens = shlex.split(re.sub(r"<[^>]*>", "ARG", line).replace("[", " ").replace("]", " ").replace("|", " "))
    cmd = tokens[1]
    text = helps(cmd)
    options = {t.split("=")[0] for t in tokens[2:] if re.fullmatch(r"--?[a-z][\w-]*(=.*)?", t)}
    missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text))
    assert not missing, f"documented line `{line}`: `neurocv {cmd}` has no {missing}"
