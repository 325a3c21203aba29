"""PK batches for pair and triplet losses: P identities x K images of each.

A triplet or contrastive loss learns only from the positives and negatives a
batch holds.  With many identities and a random batch, most identities
appear once and give no positive pair at all; Hermans, Beyer & Leibe (2017,
"In Defense of the Triplet Loss for Person Re-Identification", Sec. 3) build
every batch from P randomly chosen identities and K images of each (FaceNet,
Schroff et al. 2015, Sec. 3.2, samples "around 40 faces per identity" for the
same reason), so that every anchor has K - 1 positives and (P - 1)K negatives
to mine from.

`pk_batches` draws one epoch of such batches from a generator (so the
epoch is fixed by ``(seed, epoch)``, like `cnnlab.data.loader.Loader`'s
order) and covers the data set: each identity's images are shuffled into a
queue, every batch takes the next K images from the queues of the P
identities with the most images left (ties broken at random), and a queue is
refilled with a fresh shuffle only when it runs out.  Taking the fullest
queues first is the schedule that empties all of them in the fewest batches,
so every image appears in an epoch whenever ``batches`` x P x K slots can hold
them (always when the identities are equally large and P x K x ``batches`` >=
the number of images).  `PKLoader` puts them into a loader.
"""

from __future__ import annotations

import torch

from cnnlab.data.loader import Loader, epoch_generator
from cnnlab.errors import ConfigError


def check_pk(p: int, k: int, identities: int) -> None:
    """Refuse P or K below 2 (no negative or positive for an anchor) and P above identities."""
    if p < 2 or k < 2:
        raise ConfigError(
            f"PK batches need P >= 2 identities and K >= 2 images of each (a negative and a "
            f"positive for every anchor), got P={p}, K={k}."
        )
    if p > identities:
        raise ConfigError(
            f"PK batches of P={p} identities need at least {p} training identities, but there "
            f"are {identities}; lower P (the first number of --pk)."
        )


def _take(queue: torch.Tensor, members: torch.Tensor, k: int, generator: torch.Generator):
    """``(k images, rest of queue)``: the queue's head, topped up from fresh shuffles of
    ``members`` (avoiding the images already taken while the identity has enough)."""
    taken = queue[:k]
    queue = queue[k:]
    while len(taken) < k:
        fresh = members[torch.randperm(len(members), generator=generator)]
        unused = fresh[~torch.isin(fresh, taken)] if len(members) >= k else fresh
        need = k - len(taken)
        taken, queue = torch.cat([taken, unused[:need]]), unused[need:]
    return taken, queue


def pk_batches(
    labels: torch.Tensor, p: int, k: int, batches: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """``batches`` index tensors of P x K images: K of each of P distinct identities.

    Rows are grouped by identity (K indices of the first, then K of the second
    ...).  See the module docstring for the order and the coverage guarantee.
    """
    identities = labels.unique()
    check_pk(p, k, len(identities))
    members = [(labels == c).nonzero().flatten() for c in identities]
    queues = [m[torch.randperm(len(m), generator=generator)] for m in members]
    out = []
    for _ in range(batches):
        left = torch.tensor([-(-len(q) // k) for q in queues], dtype=torch.float64)
        tiebreak = torch.rand(len(queues), generator=generator, dtype=torch.float64)
        chosen = torch.argsort(left + tiebreak, descending=True)[:p]  # fullest queues first
        chosen = chosen[torch.randperm(p, generator=generator)]
        rows = []
        for i in chosen.tolist():
            taken, queues[i] = _take(queues[i], members[i], k, generator)
            rows.append(taken)
        out.append(torch.cat(rows))
    return out


class PKLoader(Loader):
    """``loader``'s epoch as `pk_batches`: as many batches, of P x K images each.

    Keeping the batch count keeps the Trainer's steps per epoch (and so its
    learning-rate schedule) exact.
    """

    def __init__(self, loader: Loader, p: int, k: int):
        super().__init__(
            loader.dataset,
            p * k,
            shuffle=True,
            seed=loader.seed,
            epoch=loader.epoch,
            device=loader.device,
            drop_last=True,
            num_workers=loader.num_workers,
        )
        self.p, self.k, self.batches = p, k, len(loader)

    def __len__(self) -> int:
        return self.batches

    def _batch_indices(self) -> list[torch.Tensor]:
        generator = epoch_generator(self.seed, self.epoch)
        return pk_batches(self.dataset.labels, self.p, self.k, self.batches, generator)


def parse_pk(text: str) -> tuple[int, int]:
    """``"P,K"`` as two integers; anything else is a ConfigError saying the form."""
    parts = text.replace("x", ",").split(",")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise ConfigError(
            f"pk must be 'P,K' (P identities x K images per batch, e.g. 8,4), 'auto' or 'off'; "
            f"got {text!r}."
        )
    p, k = (int(part) for part in parts)
    return p, k


def pk_shape(spec: str, *, pairs: bool, batch_size: int, identities: int) -> tuple[int, int] | None:
    """The ``(P, K)`` of ``--pk spec``, or None for random batches.

    ``auto`` turns PK batches on for the losses that need pairs inside a batch
    (``pairs``), with P = min(identities, batch_size // 4) and K = batch_size // P
    (Hermans et al. use K = 4 when there are many identities; with few, every
    one of them is in every batch).  An explicit ``P,K`` must fill the batch.
    """
    if spec == "off" or (spec == "auto" and not pairs):
        return None
    if spec == "auto":
        p = min(identities, max(2, batch_size // 4))
        shape = (p, batch_size // p)
    else:
        shape = parse_pk(spec)
        if shape[0] * shape[1] != batch_size:
            raise ConfigError(
                f"--pk {spec} makes batches of {shape[0] * shape[1]} images but --batch-size is "
                f"{batch_size}; pass --batch-size {shape[0] * shape[1]}."
            )
    check_pk(*shape, identities)
    return shape
