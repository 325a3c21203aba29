"""A run's gallery: enrolled embeddings per identity, extended without retraining.

Recognition by metric learning compares a new image's embedding with the
embeddings of enrolled images (Schroff et al. 2015, Sec. 1: "face recognition
becomes a k-NN classification problem").  Adding an identity is adding rows to
``RUN/gallery.safetensors``; the network is untouched.  The gallery records the
sha256 of the weights that computed it, so embeddings of other weights (a
resumed run's new best epoch) are never compared with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from cnnlab.errors import CheckpointError, DataError
from cnnlab.runs.checkpoint import load_state, save_state

GALLERY = "gallery.safetensors"


@dataclass
class Gallery:
    """Embeddings ``(N, D)``, the identity of each row, and the weights that computed them."""

    embeddings: torch.Tensor
    identities: list[str]
    weights_sha256: str

    def __len__(self) -> int:
        return len(self.identities)

    @property
    def names(self) -> list[str]:
        """The enrolled identities, each once, in order of enrolment."""
        return list(dict.fromkeys(self.identities))

    def add(self, embeddings: torch.Tensor, identities: list[str]) -> Gallery:
        """A gallery with these rows appended (new identities or more images of known ones)."""
        if len(embeddings) != len(identities):
            raise DataError(f"{len(embeddings)} embeddings for {len(identities)} identities.")
        if len(self) and embeddings.shape[1] != self.embeddings.shape[1]:
            raise DataError(
                f"the gallery holds {self.embeddings.shape[1]}-d embeddings, not "
                f"{embeddings.shape[1]}-d ones."
            )
        rows = torch.cat([self.embeddings, embeddings.float().cpu()]) if len(self) else embeddings
        return Gallery(rows.float().cpu(), self.identities + list(identities), self.weights_sha256)

    def nearest(self, queries: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """For each query, the ``k`` nearest identities with their distance (the Euclidean
        distance to the identity's nearest enrolled embedding), nearest first."""
        if not len(self):
            raise DataError(
                "The gallery is empty: enroll identities first (`cnnlab enroll RUN DIR` with "
                "DIR/<identity>/<images>)."
            )
        names = self.names
        owner = torch.tensor([names.index(name) for name in self.identities])
        dist = torch.cdist(queries.float().cpu(), self.embeddings)
        per_identity = torch.full((len(queries), len(names)), float("inf"))
        per_identity.scatter_reduce_(1, owner.expand(len(queries), -1), dist, "amin")
        top = per_identity.topk(min(k, len(names)), dim=1, largest=False)
        return [
            [(names[i], float(d)) for d, i in zip(values, indices, strict=True)]
            for values, indices in zip(top.values, top.indices, strict=True)
        ]


def gallery_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / GALLERY


def save_gallery(run_dir: str | os.PathLike, gallery: Gallery) -> None:
    """Write ``gallery`` to the run directory (atomically)."""
    save_state(
        gallery_path(run_dir),
        {
            "embeddings": gallery.embeddings.contiguous(),
            "identities": gallery.identities,
            "weights_sha256": gallery.weights_sha256,
        },
    )


def load_gallery(run_dir: str | os.PathLike, weights_sha256: str | None = None) -> Gallery:
    """The run's gallery; ``weights_sha256`` must match the weights that computed it."""
    path = gallery_path(run_dir)
    if not path.is_file():
        raise DataError(
            f"{run_dir} has no gallery yet (the gallery is empty): evaluate the run "
            "(`cnnlab evaluate RUN`) or enroll identities (`cnnlab enroll RUN DIR`)."
        )
    state = load_state(path)
    try:
        gallery = Gallery(state["embeddings"], list(state["identities"]), state["weights_sha256"])
    except KeyError as exc:
        raise CheckpointError(f"{path} is not a cnnlab gallery (no {exc}).") from exc
    if weights_sha256 is not None and gallery.weights_sha256 != weights_sha256:
        raise CheckpointError(
            f"{path} was computed with other weights than the run's model.safetensors (a "
            "resumed run's new best epoch?). Delete it and enroll the identities again."
        )
    return gallery
