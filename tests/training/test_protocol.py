"""The paper's protocol as commands: --fold, the three-split mean (--folds), fine-tuning (--init), TSN views
(--crops) in eval and energy."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from neurocv.cli import main
from neurocv.data import CompressedVideoDataset, load_split
from neurocv.data.transforms import ClipTransform, tsn_views
from neurocv.errors import DatasetError
from neurocv.models import create_model
from neurocv.synth import make_synthetic_dataset
from neurocv.training import TrainConfig, evaluate, load_checkpoint, train
from neurocv.training.finetune import init_from_checkpoint
from neurocv.training.loop import _forward_views

SMALL = (("dim", 32), ("depth", 1), ("heads", 2), ("stm_channels", (8, 8)), ("mixer_dim", 16), ("rrdb_growth", 8))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The synthetic set (10 classes x 2 videos) with three official-style splits: split 1 as generated, split 2
    its train and test swapped, split 3 = split 1 minus one test video."""
    root = tmp_path_factory.mktemp("protocol") / "synth"
    make_synthetic_dataset(root, videos_per_class=2, test_fraction=0.5, width=48, height=48, n_frames=13, seed=1,
                           progress=False)
    s = next(d for d in root.iterdir() if (d / "classInd.txt").exists())
    train1, test1 = (s / "trainlist01.txt").read_text(), (s / "testlist01.txt").read_text()
    (s / "trainlist02.txt").write_text("".join(f"{ln.split()[0]} 1\n" for ln in test1.splitlines() if ln.strip()))
    (s / "testlist02.txt").write_text("".join(f"{ln.split()[0]}\n" for ln in train1.splitlines() if ln.strip()))
    (s / "trainlist03.txt").write_text(train1)
    (s / "testlist03.txt").write_text("\n".join(test1.splitlines()[1:]) + "\n")
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("protocol-run") / "run"
    cfg = TrainConfig(epochs=1, batch_size=5, segments=2, crop=48, seed=0, model_overrides=SMALL, progress=False,
                      fold=2)
    train(data, out, cfg)
    return out


def test_fold_trains_and_evaluates_its_split(run, data):
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["train_config"]["fold"] == 2
    r2 = evaluate(run / "last.pt", data)                     # default: the checkpoint's split
    assert r2["fold"] == 2 and r2["n_videos"] == len(load_split(data, "test", 2)) == 10
    r3 = evaluate(run / "last.pt", data, fold=3)
    assert r3["fold"] == 3 and r3["n_videos"] == 9
    with pytest.raises(DatasetError, match="fold 4"):
        load_split(data, "test", 4)


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code, capsys.readouterr()


def test_folds_mean_and_spread(tmp_path, run, data, capsys):
    for k in (1, 2, 3):
        (tmp_path / f"s{k}").mkdir()
        shutil.copy(run / "last.pt", tmp_path / f"s{k}" / "best.pt")
    pattern = str(tmp_path / "s{fold}" / "best.pt")
    main(["eval", pattern, str(data), "--folds", "1,2,3", "--json", "-o", str(tmp_path / "ev")])
    summary = json.loads(capsys.readouterr().out)
    singles = [evaluate(tmp_path / f"s{k}" / "best.pt", data, fold=k)["top1"] for k in (1, 2, 3)]
    assert [f["fold"] for f in summary["folds"]] == [1, 2, 3]
    assert [f["top1"] for f in summary["folds"]] == singles
    assert summary["top1_mean"] == pytest.approx(sum(singles) / 3)
    assert summary["top1_std"] == pytest.approx(float(torch.tensor(singles, dtype=torch.float64).std()))
    assert (tmp_path / "ev" / "folds.json").exists() and (tmp_path / "ev" / "fold3" / "eval.json").exists()
    main(["eval", pattern, str(data), "--folds", "1,3"])
    text = " ".join(capsys.readouterr().out.split())
    assert "mean over 2 splits: top-1" in text and "split 3:" in text
    for argv, needle in (([str(run / "last.pt"), str(data), "--folds", "1,2"], "must contain {fold}"),
                         ([pattern, str(data), "--folds", "1,4"], "--folds expects"),
                         ([pattern, str(data), "--folds", "1,2", "--fold", "1"], "not both"),
                         ([str(run / "last.pt"), str(data), "--crops", "5"], "--crops must be 1, 3 or 10")):
        code, cap = _cli(["eval", *argv], capsys)
        lines = cap.err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and needle in lines[0], cap.err


def test_init_new_head_reports_tensors(tmp_path, run, data, capsys):
    # a 3-class dataset (CSV list over three of the synthetic classes): a new head, everything else loaded
    split = load_split(data, "train", 1)
    rows = ["path,label,split"]
    for sp in ("train", "test"):
        for path, label in load_split(data, sp, 1).items:
            if label < 3:
                rows.append(f"{path},{split.classes[label]}_new,{sp}")
    (tmp_path / "three.csv").write_text("\n".join(rows) + "\n")
    ckpt = load_checkpoint(run / "last.pt")
    torch.manual_seed(5)
    model = create_model("stm-tiny", num_classes=3, **dict(SMALL))
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    report = init_from_checkpoint(model, run / "last.pt", "stm-tiny", ["a", "b", "c"], dict(SMALL))
    sd = model.state_dict()
    # the classifier and the training-only per-modality probes (aux_loss) are the tensors shaped by the classes
    heads = {f"{m}.fc.{p}" for m in ("head", "aux.i", "aux.mv", "aux.r") for p in ("weight", "bias")}
    assert report["head"] == "new" and set(report["reinitialised"]) == {f"{k} (new head)" for k in heads}
    assert set(report["skipped"]) == {f"{k} (old head)" for k in heads}
    assert len(report["loaded"]) == len(sd) - len(heads)
    for k in report["loaded"]:
        assert torch.equal(sd[k], ckpt["state_dict"][k]), k
    assert torch.equal(sd["head.fc.weight"], fresh["head.fc.weight"])
    same = init_from_checkpoint(create_model("stm-tiny", num_classes=10, **dict(SMALL)), run / "last.pt",
                                "stm-tiny", list(ckpt["classes"]), dict(SMALL))
    assert same["head"].startswith("kept") and not same["reinitialised"] and not same["skipped"]

    # through the CLI: --model defaults to the checkpoint's, the report goes to stderr and OUT/init.json
    sets = [a for k, v in SMALL for a in ("--set", f"{k}={json.dumps(v)}")]
    main(["train", str(tmp_path / "three.csv"), "-o", str(tmp_path / "ft"), "--init", str(run / "last.pt"),
          "--epochs", "1", "--batch-size", "3", "--segments", "2", "--crop", "48", *sets])
    err = " ".join(capsys.readouterr().err.split())
    assert f"re-initialised {len(heads)}: head.fc.weight (new head), head.fc.bias (new head), aux." in err, err
    saved = json.loads((tmp_path / "ft" / "init.json").read_text())
    assert saved["loaded"] == report["loaded"]
    ft = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert ft["model"] == "stm-tiny" and len(ft["classes"]) == 3 and all(c.endswith("_new") for c in ft["classes"])
    code, cap = _cli(["train", str(data), "-o", str(tmp_path / "bad"), "--init", str(tmp_path / "none.pt")], capsys)
    assert code == 2 and "checkpoint not found" in cap.err


def test_test_views_geometry():
    g = torch.Generator().manual_seed(0)
    x = [torch.rand(3, c, 60, 80, generator=g) * 100 for c in (3, 2, 3)]
    centre = ClipTransform(crop=32)(*x)
    for n, mid in ((1, 0), (3, 1), (10, 4)):
        i, m, r, flips = tsn_views(*x, crop=32, crops=n)
        assert i.shape == (n, 3, 3, 32, 32) and m.shape == (n, 3, 2, 32, 32)
        assert all(torch.equal(a, b[mid]) for a, b in zip(centre, (i, m, r)))     # the centre view is eval's crop
        assert flips == [False] * min(n, 5) + [True] * (n - 5 if n == 10 else 0)
    i, m, r, _ = tsn_views(*x, crop=32, crops=10)
    assert torch.equal(i[5], i[0].flip(-1)) and torch.equal(m[5, :, 0], -m[0, :, 0].flip(-1))
    i3 = tsn_views(*x, crop=32, crops=3)[0]
    assert not torch.equal(i3[0], i3[2])                       # along the long side (80 px wide)


class _Const(torch.nn.Module):
    """Always votes for class 0."""

    def forward(self, i, m, r):
        out = torch.zeros(i.shape[0], 4)
        out[:, 0] = 1.0
        return out + 0 * self.w

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))


def test_mirrored_views_vote_for_the_mirrored_class():
    # classes 0 and 1 are mirror images (translate_right / translate_left): a mirrored view's vote for 0 is one for 1
    batch = {k: torch.zeros(2, 10, 2, c, 8, 8) for k, c in (("iframes", 3), ("mvs", 2), ("residuals", 3))}
    batch["flipped"] = torch.tensor([[False] * 5 + [True] * 5] * 2)
    logits = _forward_views(_Const(), batch, [1, 0, 2, 3])
    assert logits.shape == (2, 4) and torch.allclose(logits[0], torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert torch.equal(_forward_views(_Const(), batch, None)[0], torch.tensor([1.0, 0, 0, 0]))


def test_eval_and_energy_crops(run, data, capsys):
    ds = CompressedVideoDataset(data, "test", 2, 48, fold=2, crops=10)
    item = ds[0]
    assert item["iframes"].shape == (10, 2, 3, 48, 48) and item["flipped"].sum() == 5
    r1 = evaluate(run / "last.pt", data, crops=1)
    r10 = evaluate(run / "last.pt", data, crops=10)
    assert r10["views"] == "2x10" and r10["n_videos"] == r1["n_videos"] and r1["views"] == "2x1"
    # energy on the same views: every view measured, per video = views x mean per view
    main(["energy", str(run / "last.pt"), "--input", f"{data}:test", "--max-videos", "1", "--crops", "3", "--json"])
    d3 = json.loads(capsys.readouterr().out)
    main(["energy", str(run / "last.pt"), "--input", f"{data}:test", "--max-videos", "1", "--json"])
    d1 = json.loads(capsys.readouterr().out)
    assert d3["protocol"]["crops"] == 3 and d3["n_videos"] == 1 and "3 TSN views" in d3["inputs"]
    assert d3["total"]["macs"] == pytest.approx(3 * d1["total"]["macs"])        # dense: the same per view
    # effective counts (zero inputs skipped) are measured on each view, not the centre one times 3
    assert d3["total"]["effective_macs"] != pytest.approx(3 * d1["total"]["effective_macs"], rel=1e-9)
    code, cap = _cli(["energy", str(run / "last.pt"), "--crops", "2"], capsys)
    assert code == 2 and "--crops must be one of 1, 3, 10" in cap.err
