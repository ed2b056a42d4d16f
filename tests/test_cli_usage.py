"""A newcomer's first mistakes (issue 12): usage errors, a path of the wrong kind, a file of the wrong kind. Each
runs the installed ``neurocv`` from a folder outside the repository with relative paths, and asserts the exit code,
a short stderr and no traceback."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from neurocv import __version__

from ._cli import assert_ok, assert_short_error, assert_usage_error, user_folder, user_run


@pytest.fixture(scope="module")
def work(tmp_path_factory, clip_factory):
    """A user's folder: a video, a tiny checkpoint, a text file, an empty folder, fake deployment files."""
    d = user_folder(tmp_path_factory, clip_factory)
    (d / "README.md").write_text("# not a dataset\n")
    (d / "folder").mkdir()
    for name in ("ann.onnx", "stm_mv.nir", "reference.safetensors"):
        (d / name).write_bytes(b"\x08\x07not really")
    with warnings.catch_warnings():       # torch.jit is deprecated, and still what a user may hand us
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(d / "scripted.pt"))
    return d


USAGE = [
    (["nosuchcmd"], "No such command"),
    (["info"], "Missing argument"),
    (["synth", "s", "--frames", "abc"], "--frames"),
    (["train", "data", "-o", "run", "--epochs", "0"], "--epochs"),
    (["train", "data", "-o", "run", "--crop", "0"], "--crop"),
    (["cache", "data", "-j", "0"], "-j"),
    (["run", "dep", "v.mp4", "--top", "10"], "--top"),
    (["run", "dep", "v.mp4", "--backend", "nope"], "lava-float"),
    (["transcode", "v.mp4", "out.webm", "--codec", "vp9"], "--codec"),
    (["export", "tiny.pt", "-o", "dep", "--dt", "0"], "--dt"),
]


@pytest.mark.parametrize("args,needle", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_errors_exit_2_with_the_usage_message(work, args, needle):
    assert_usage_error(user_run(work, *args), needle)


def test_version_and_help(work):
    assert assert_ok(user_run(work, "--version")).stdout.strip() == f"neurocv {__version__}"
    text = assert_ok(user_run(work, "run", "--help")).stdout
    assert "lava-fixed" in text and "torch" in text           # --backend lists its choices
    text = assert_ok(user_run(work, "energy", "--help")).stdout
    assert "cmos45nm-int8" in text and "loihi" in text        # --hardware lists its choices


def test_train_help_states_the_recipe(work):
    from neurocv.recipes import PAPER_RECIPE, default_recipe

    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", assert_ok(user_run(work, "train", "--help")).stdout).split())
    tiny = default_recipe("stm-tiny")
    assert f"(stm-tiny {tiny.epochs}, others {PAPER_RECIPE.epochs})" in text
    assert f"(stm-tiny {tiny.batch_size}, others {PAPER_RECIPE.batch_size})" in text
    assert f"stm-tiny {tiny.lr:g}, others {PAPER_RECIPE.lr:g}" in text


WRONG_KIND = [
    (["extract", "v.mp4", "-o", "folder"], "is a folder"),
    (["energy", "stm-tiny", "--plot", "folder"], "is a folder"),
    (["show", "v.mp4", "-o", "README.md"], "is a file"),
    (["eval", "tiny.pt", "data", "-o", "README.md"], "is a file"),
    (["cache", "data", "--cache-dir", "README.md"], "is a file"),
    (["synth", "README.md"], "is a file"),
    (["train", "data", "-o", "README.md"], "is a file"),
    (["extract", "v.mp4", "-o", "README.md/x.npz"], "is a file"),
    (["extract", "v.mp4", "-o", "x.npz", "--size", "100000x100000"], "larger than"),
    (["transcode", "v.mp4", "v.mp4"], "the input itself"),
    (["transcode", "v.mp4", "odd.mp4", "--size", "341x255"], "340x254"),
]


@pytest.mark.parametrize("args,needle", WRONG_KIND, ids=[" ".join(a) for a, _ in WRONG_KIND])
def test_a_path_of_the_wrong_kind_is_one_line(work, args, needle):
    before = sorted(p.name for p in work.iterdir())
    assert_short_error(user_run(work, *args), needle)
    assert sorted(p.name for p in work.iterdir()) == before      # refused before any work: nothing written


WRONG_FILE = [
    (["eval", "ann.onnx", "data"], "an ONNX model"),
    (["export", "stm_mv.nir", "-o", "dep"], "a NIR graph"),
    (["energy", "reference.safetensors"], "bare weights"),
    (["eval", "scripted.pt", "data"], "TorchScript"),
    (["run", "tiny.pt", "v.mp4"], "neurocv export tiny.pt -o"),
    (["train", "README.md", "-o", "run"], "a .csv"),
    (["energy", "stm-tiny", "--from-run", "ops.json"], "not both"),
]


@pytest.mark.parametrize("args,needle", WRONG_FILE, ids=[" ".join(a) for a, _ in WRONG_FILE])
def test_the_message_names_the_real_problem(work, args, needle):
    text = assert_short_error(user_run(work, *args), needle)
    assert "corrupt" not in text and "weights_only" not in text and "Warning" not in text
