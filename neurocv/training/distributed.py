"""Single-process or DDP execution, chosen by the environment ``torchrun`` sets (RANK, WORLD_SIZE, LOCAL_RANK).

Backends: NCCL when CUDA is available, gloo otherwise (CPU). Batches are sharded with DistributedSampler; metrics
are summed or gathered across ranks; only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler


def _collate(items):
    # items of videos that could not be read (dataset skip_bad) travel as ``bad`` (video, reason) pairs: the loop
    # warns about and counts them, or stops with --strict; a batch of nothing but bad items has no other keys
    bad = [(it["video"], it["error"]) for it in items if "error" in it]
    items = [it for it in items if "error" not in it]
    if not items:
        return {"bad": bad}
    out = {"bad": bad} if bad else {}
    out.update({k: torch.stack([it[k] for it in items]) for k in ("iframes", "mvs", "residuals")})
    out["label"] = torch.tensor([it["label"] for it in items])
    out["index"] = torch.tensor([it["index"] for it in items])
    if "flipped" in items[0]:                       # multi-view test items: which views are mirrored
        out["flipped"] = torch.stack([it["flipped"] for it in items])
    return out


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.device.type == "cuda" else None
        return DistributedDataParallel(model.to(self.device), device_ids=ids)

    def loader(self, dataset, batch_size: int, shuffle: bool, seed: int, epoch: int, workers: int,
               pin_memory: bool | None = None) -> DataLoader:
        """A loader whose order and augmentation depend only on ``(seed, epoch)`` (and the rank); batches in pinned
        memory when the device is CUDA (``pin_memory=None``), so host-to-device copies run asynchronously."""
        g = torch.Generator().manual_seed(seed * 100_003 + epoch * 1_009 + self.rank)
        if self.active:
            sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=shuffle, seed=seed,
                                         drop_last=False)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(dataset, generator=g) if shuffle else SequentialSampler(dataset)
        pin = self.device.type == "cuda" if pin_memory is None else pin_memory
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, generator=g,
                          collate_fn=_collate, persistent_workers=False, pin_memory=pin)

    def sum_tensor(self, t: torch.Tensor) -> torch.Tensor:
        if self.active:
            t = t.clone()
            tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
        return t

    def gather_cat(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for t in tensors:
            parts = [None] * self.world_size
            tdist.all_gather_object(parts, t)
            out.append(torch.cat(parts))
        return out

    def barrier(self) -> None:
        if self.active:
            tdist.barrier()

    def close(self) -> None:
        if self.active and tdist.is_initialized():
            tdist.barrier()  # no rank tears its gloo pairs down while a peer may still be reading from them
            tdist.destroy_process_group()


def setup_distributed() -> DistContext:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if not tdist.is_initialized():
        tdist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return DistContext(rank, world, local, device)
