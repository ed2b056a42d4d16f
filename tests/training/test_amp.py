"""GPU-ready training exercised on the CPU: bf16 autocast (and fp16 with its gradient scaler) train a few steps
with a loss within 5 % of float32; the auto defaults leave the CPU path as it was."""

from __future__ import annotations

import pytest
import torch

from neurocv.cli import main
from neurocv.errors import ConfigError
from neurocv.synth import make_synthetic_dataset
from neurocv.training import TrainConfig, load_checkpoint, train
from neurocv.training.precision import amp_dtype, default_workers, grad_scaler, use_channels_last

SMALL = (("dim", 32), ("depth", 1), ("heads", 2), ("stm_channels", (8, 8)), ("mixer_dim", 16), ("rrdb_growth", 8))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("amp") / "synth"
    make_synthetic_dataset(root, videos_per_class=2, test_fraction=0.5, width=48, height=48, n_frames=13, seed=2,
                           progress=False)
    return root


def test_auto_defaults_change_nothing_on_cpu():
    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu) is None and amp_dtype("bf16", cpu) == torch.bfloat16
    assert grad_scaler(cpu, None) is None and grad_scaler(cpu, torch.bfloat16) is None
    assert not use_channels_last(None, cpu) and use_channels_last(True, cpu)
    assert default_workers(cpu) == 0
    with pytest.raises(ConfigError, match="--amp must be one of"):
        amp_dtype("fp8", cpu)


def _run(data, out, amp):
    cfg = TrainConfig(epochs=1, batch_size=2, segments=2, crop=48, seed=0, model_overrides=SMALL, progress=False,
                      max_batches_per_epoch=3, amp=amp, channels_last=amp != "off")
    row = train(data, out, cfg)
    return row, load_checkpoint(out / "last.pt")


def test_bf16_and_fp16_autocast_train_within_5_percent_of_fp32(tmp_path, data):
    ref, ckpt32 = _run(data, tmp_path / "fp32", "off")
    for amp in ("bf16", "fp16"):
        row, ckpt = _run(data, tmp_path / amp, amp)
        # the same three steps under autocast: close to float32, but not the float32 computation itself
        assert row["train_loss"] == pytest.approx(ref["train_loss"], rel=0.05), (amp, row, ref)
        assert row["train_loss"] != ref["train_loss"]
        assert all(v.dtype == ckpt32["state_dict"][k].dtype for k, v in ckpt["state_dict"].items())  # fp32 master
        assert ("scaler" in ckpt) == (amp == "fp16")
        assert ckpt["train_config"]["amp"] == amp


def test_cli_amp_option(tmp_path, data, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", str(data), "-o", str(tmp_path / "x"), "--amp", "fp8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "--amp must be one of" in err[0]
