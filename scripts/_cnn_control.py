"""Control for docs/learning.md: a plain 4-layer CNN (no transformer, no mixer) on the same I-frames and labels."""
import json, sys, time, math
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neurocv.data import CompressedVideoDataset
torch.set_num_threads(1); torch.manual_seed(0)
data, factor, epochs, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
tr = CompressedVideoDataset(data, "train", 8, 112, train=True); te = CompressedVideoDataset(data, "test", 8, 112)
part = 0 if factor == "what" else 1
vals = sorted({c.split("_")[part] for c in tr.classes}); rel = [vals.index(c.split("_")[part]) for c in tr.classes]
def block(i, o): return [nn.Conv2d(i, o, 3, 2, 1, bias=False), nn.BatchNorm2d(o), nn.GELU()]
net = nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 64), *block(64, 96), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, len(vals)))
opt = torch.optim.Adam(net.parameters(), 1e-3)
def batches(ds, order):
    for s in range(0, len(order), 8):
        its = [ds[i] for i in order[s:s+8]]
        x = torch.stack([it["iframes"] for it in its]); y = torch.tensor([rel[it["label"]] for it in its])
        yield x, y
def fwd(x):
    b, t = x.shape[:2]; return net(x.flatten(0, 1)).unflatten(0, (b, t)).mean(1)
rows = []
for ep in range(epochs):
    t0 = time.time(); net.train(); g = torch.Generator().manual_seed(ep)
    c = n = 0
    for x, y in batches(tr, torch.randperm(len(tr), generator=g).tolist()):
        lo = fwd(x); loss = F.cross_entropy(lo, y); opt.zero_grad(); loss.backward(); opt.step()
        c += (lo.argmax(1) == y).sum().item(); n += len(y)
    net.eval(); vc = 0
    with torch.no_grad():
        for x, y in batches(te, list(range(len(te)))): vc += (fwd(x).argmax(1) == y).sum().item()
    rows.append({"epoch": ep + 1, "train_top1": c / n, "val_top1": vc / len(te), "seconds": time.time() - t0})
    print(rows[-1], flush=True)
    Path(out).write_text(json.dumps(rows, indent=1))
