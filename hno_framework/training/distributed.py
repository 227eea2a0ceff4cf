"""One network trained by several processes: data parallelism under ``torchrun``.

``torchrun --nproc_per_node=N -m hno_framework.cli train CONFIG`` starts N processes with
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment. :func:`join` turns them into
one process group (``gloo`` on CPU, ``nccl`` on CUDA, where rank r uses ``cuda:LOCAL_RANK``)
and returns the :class:`DataParallel` the training loop uses; outside ``torchrun`` it returns
:data:`SINGLE`, under which every operation is the identity.

Design: *one shared stream, sharded*. Every rank draws the whole global batch of
``training.batch_size`` samples from the same seeded training generator and keeps its
contiguous shard of ``B / W`` rows (rank r: rows ``r·B/W … (r+1)·B/W − 1``), so the union of
the shards is exactly the batch one process would draw. Each rank computes the loss ``L_r`` (a
mean over its shard) and its gradient; the gradients are averaged, ``g = (1/W) Σ_r ∇L_r``,
which is ``∇L`` of the global batch's mean loss because the shards have equal size. Every rank
then takes the same optimizer step, so the parameters stay identical on all ranks and equal to
one process training with the same global batch, up to the order of the float additions. (The
alternative, each rank drawing from its own seeded stream, trains on the same amount of data
but on batches no single-process run sees; sharding one stream keeps a multi-process run
reproducible by one process and a checkpoint resumable with any number of processes, at the
price of each rank drawing the whole batch, which is cheap next to the forward/backward pass.)

The gradients are averaged with one ``all_reduce`` over the current phase's parameters (and the
loss, so every rank sees the global loss), not with ``DistributedDataParallel``: the stage-wise
protocol trains a different parameter subset with a fresh optimizer in every phase, which DDP
would need re-wrapping for, while the explicit reduction is exact and costs one collective per
step. Decisions (best so far, patience, divergence) follow the validation NMSE, which every rank
computes and then replaces by rank 0's value, so no rank leaves a phase (or the run) alone and
none waits forever. Only rank 0 (:attr:`DataParallel.is_main`) writes checkpoints,
``metrics.json``, logs and the progress bar; on resume every rank reads ``last.pt`` (so on
several machines the run directory must be on storage they all see).

Assumptions: the loss is a mean over the batch (``MSE`` and the steps' auxiliary losses are),
and no layer couples the samples of a batch (no batch normalisation).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import CheckpointError, ConfigError
from ..problems.base import SignalBatch

_created_group: list[bool] = []
"""Non-empty when :func:`join` initialised the process group (then :func:`leave` destroys it)."""


def launched_world_size() -> int:
    """``WORLD_SIZE`` as set by ``torchrun`` (1 outside it)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def launched_rank() -> int:
    """``RANK`` as set by ``torchrun`` (0 outside it)."""
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    """True outside ``torchrun`` and on its rank 0: the process that writes files and prints."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return launched_rank() == 0


def rank_device(device: torch.device) -> torch.device:
    """The device of this rank: ``cuda`` without an index becomes ``cuda:LOCAL_RANK`` under ``torchrun``
    (one GPU per process); any other device is kept as given."""
    if device.type == "cuda" and device.index is None and launched_world_size() > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
    return device


@dataclass(frozen=True)
class DataParallel:
    """This process's place in a data-parallel run: ``rank`` of ``world_size`` processes, collectives on
    ``device``. With ``world_size`` 1 (:data:`SINGLE`) every method is the single-process identity."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, metrics, logs and the progress bar (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def shard(self, batch: SignalBatch) -> SignalBatch:
        """This rank's contiguous ``B / W`` rows of the global batch (``B`` rows; the whole batch for one process)."""
        if not self.active:
            return batch
        size = len(batch) // self.world_size
        return batch.slice(self.rank * size, (self.rank + 1) * size)

    def average_gradients(self, params: Sequence[nn.Parameter], loss: Tensor) -> float:
        """Replace each ``p.grad`` by its mean over the ranks, ``(1/W) Σ_r ∇L_r``, and return the mean loss
        ``(1/W) Σ_r L_r`` (the global batch's loss). One ``all_reduce`` per dtype; parameters without a
        gradient (``None`` on every rank, as one process would have) are left alone."""
        if not self.active:
            return float(loss.detach())
        mean_loss = loss.detach().reshape(1)
        groups: dict[torch.dtype, list[Tensor]] = {mean_loss.dtype: []}
        for p in params:
            if p.grad is not None:
                groups.setdefault(p.grad.dtype, []).append(p.grad)
        for dtype, group in groups.items():
            with_loss = dtype == mean_loss.dtype
            flat = torch.cat([g.reshape(-1) for g in group] + ([mean_loss] if with_loss else []))
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat /= self.world_size
            offset = 0
            for g in group:
                g.copy_(flat[offset:offset + g.numel()].view_as(g))
                offset += g.numel()
            if with_loss:
                mean_loss = flat[-1:]
        return float(mean_loss)

    def from_main(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (the validation NMSE every phase decision follows)."""
        if not self.active:
            return value
        t = torch.tensor([value if math.isfinite(value) else math.inf], dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return float(t)

    def broadcast_module(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank (as DDP does at the start)."""
        if not self.active:
            return
        with torch.no_grad():
            for t in module.state_dict().values():
                if t.is_floating_point() or t.is_complex():
                    buf = t if t.is_contiguous() else t.contiguous()
                    dist.broadcast(buf, src=0)
                    if buf is not t:
                        t.copy_(buf)

    def agree(self, what: str, values: Sequence[int]) -> None:
        """Raise on every rank when the ranks disagree on ``values`` (e.g. where a resume starts)."""
        if not self.active:
            return
        mine = torch.tensor(list(values), dtype=torch.int64, device=self.device)
        low, high = mine.clone(), mine.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        if not torch.equal(low, high):
            raise CheckpointError(f"the {self.world_size} processes disagree on {what} (rank {self.rank}: {list(values)}); "
                               "every rank must see the same run directory (shared storage on several machines)")


SINGLE = DataParallel()
"""One process: no collectives, it writes everything."""


def check_batch_size(batch_size: int, world_size: int) -> None:
    """The global batch must split into ``world_size`` equal shards (else the mean of the shard losses is not
    the batch's loss); a :class:`ConfigError` naming the fix otherwise."""
    if batch_size % world_size:
        lower = batch_size - batch_size % world_size
        raise ConfigError(f"training.batch_size={batch_size} does not split into {world_size} processes; use a multiple "
                          f"of {world_size} (e.g. --set training.batch_size={lower or world_size}) or another "
                          "--nproc_per_node")


def join(batch_size: int, device: torch.device, net: nn.Module | None = None) -> DataParallel:
    """This process's :class:`DataParallel`: :data:`SINGLE` outside ``torchrun``; under it, initialise the
    process group (once; ``nccl`` for a CUDA ``device``, else ``gloo``), check that ``batch_size`` splits
    into the ranks and copy rank 0's ``net`` to every rank."""
    initialized = dist.is_available() and dist.is_initialized()
    world = dist.get_world_size() if initialized else launched_world_size()
    if world <= 1:
        return SINGLE
    if not dist.is_available():
        raise ConfigError("WORLD_SIZE > 1 (torchrun), but this torch has no torch.distributed; run one process")
    check_batch_size(batch_size, world)
    if not initialized:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        _created_group.append(True)
    ctx = DataParallel(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)
    if net is not None:
        ctx.broadcast_module(net)
    return ctx


def leave() -> None:
    """Destroy the process group if :func:`join` created it (the end of ``train``)."""
    if _created_group and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _created_group.clear()
