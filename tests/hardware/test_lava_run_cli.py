"""`neurocv run` over many videos: JSON lines stream out as each video finishes, a progress bar on stderr when it
is a terminal (none when piped, none for one video), and lava-fixed agrees with torch on top-1."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
import torch

from neurocv.cli import main
from neurocv.models import create_model
from neurocv.runtime import RuntimeSession
from neurocv.synth import ACTIONS
from neurocv.checkpoint import save_checkpoint
from tests._cli import assert_ok, user_env, user_run


@pytest.fixture(scope="module")
def deploy_dir(tmp_path_factory):
    torch.manual_seed(1)
    model = create_model("stm-tiny", num_classes=len(ACTIONS), input_size=(32, 32), segments=3)
    root = tmp_path_factory.mktemp("lava_run")
    ckpt = root / "tiny.pt"
    save_checkpoint(ckpt, {"model": "stm-tiny", "config": model.config_dict(), "classes": list(ACTIONS),
                           "state_dict": model.state_dict(), "epoch": 1,
                           "train_config": {"segments": 3, "crop": 32, "accumulate": True}})
    with contextlib.redirect_stdout(io.StringIO()):
        main(["export", str(ckpt), "-o", str(root / "deploy"), "--json"])
    return root / "deploy"


@pytest.fixture(scope="module")
def videos(clip_factory):
    return [clip_factory(a, width=64, height=48, n_frames=26, seed=s)[0]
            for a, s in (("translate_left", 4), ("oscillate", 5), ("zoom_in", 6))]


def _run(capsys, *args) -> int:
    try:
        main([str(a) for a in args])
        return 0
    except SystemExit as e:
        return e.code or 0


def test_json_lines_stream_per_video_and_agree_with_torch(capsys, monkeypatch, deploy_dir, videos):
    seen, lines = [], []
    original = RuntimeSession.run_video

    def spy(self, video):
        lines.extend(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{"))
        seen.append(len(lines))          # results of the videos before this one are already out
        return original(self, video)

    monkeypatch.setattr(RuntimeSession, "run_video", spy)
    assert _run(capsys, "run", deploy_dir, *videos, "--backend", "lava-fixed", "--json") == 0
    lines.extend(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{"))
    assert seen == [0, 1, 2]
    fixed = [json.loads(ln) for ln in lines]
    assert [r["video"] for r in fixed] == [str(v) for v in videos]
    monkeypatch.setattr(RuntimeSession, "run_video", original)
    assert _run(capsys, "run", deploy_dir, *videos, "--backend", "torch", "--json") == 0
    ref = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    assert [r["top1"] for r in fixed] == [r["top1"] for r in ref]


def test_progress_bar_on_a_terminal_only(tmp_path, deploy_dir, videos):
    tty = user_env(TTY_COMPATIBLE="1", TTY_INTERACTIVE="1")
    proc = assert_ok(user_run(tmp_path, "run", deploy_dir, *videos[:2], "--backend", "torch", "--json", env=tty))
    assert "running videos (torch)" in proc.stderr and "0/2" in proc.stderr
    assert len([ln for ln in proc.stdout.splitlines() if ln.startswith("{")]) == 2    # stdout: results only
    assert all(ln.startswith("{") for ln in proc.stdout.splitlines() if ln.strip())
    piped = assert_ok(user_run(tmp_path, "run", deploy_dir, *videos[:2], "--backend", "torch", "--json"))
    assert "running videos" not in piped.stderr
    single = assert_ok(user_run(tmp_path, "run", deploy_dir, videos[0], "--backend", "torch", "--json", env=tty))
    assert "running videos" not in single.stderr
