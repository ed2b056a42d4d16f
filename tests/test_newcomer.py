"""The README as a newcomer reads it (issue 12): its "first hour" block runs line by line, verbatim, from a folder
outside the repository; and every `neurocv ...` command line anywhere in the README names a real command and only
options that command has. The README and the CLI cannot drift apart without this test failing."""

from __future__ import annotations

import re
import shlex

import pytest

from ._cli import NEUROCV, REPO, assert_ok, user_run

README = (REPO / "README.md").read_text()
MARK = "<!-- newcomer-walkthrough -->"


def _walkthrough() -> list[str]:
    block = README.split(MARK, 1)[1].split("```", 2)[1]
    return [ln for ln in block.splitlines() if ln.strip()]


def _synopsis_lines() -> list[str]:
    lines = []
    for block in README.split("```")[1::2]:
        lines += [ln.split("  #")[0].strip() for ln in block.splitlines() if ln.startswith("neurocv ")]
    return lines


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
def test_every_readme_command_line_matches_the_cli(line, helps):
    tokens = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
    cmd = tokens[1]
    text = helps(cmd)
    options = {t.split("=")[0] for t in tokens[2:] if re.fullmatch(r"--?[a-z][\w-]*(=.*)?", t)}
    missing = sorted(o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text))
    assert not missing, f"README line `{line}`: `neurocv {cmd}` has no {missing}"
