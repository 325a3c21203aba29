"""Explaining an embedding: the gradient of the similarity to an enrolled identity.

An embedding network has no class scores; what it decides is which enrolled
identity an image is nearest to (the gallery of `cnnlab.runs.gallery`:
the Euclidean distance to the identity's nearest enrolled embedding).  Its
embeddings are unit vectors, so that distance is ‖f(x) − g‖² = 2 − 2·cos(f(x), g),
and the score explained is the cosine similarity to the identity's nearest
enrolled embedding,

    S(x) = max_j f(x)·g_j   over the identity's enrolled embeddings g_j,

as in the similarity-based saliency of Stylianou, Souvenir & Pless (2019,
"Visualizing deep similarity networks", WACV), and Grad-CAM on it as in
Chen et al. (2020, "Adapting Grad-CAM for embedding networks", WACV).  Any
attribution method takes it as its target (`cnnlab.explain.target`).
"""

from __future__ import annotations

import torch

from cnnlab.errors import ConfigError
from cnnlab.runs.gallery import Gallery


class IdentityScore:
    """Target callable: each embedding's highest cosine similarity to ``references`` (M, D)."""

    def __init__(self, references: torch.Tensor):
        if references.dim() != 2 or not len(references):
            raise ConfigError("An identity score needs at least one (D,) reference embedding.")
        self.references = references.float()

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        if output.dim() != 2 or output.shape[1] != self.references.shape[1]:
            raise ConfigError(
                f"An identity score needs (N, {self.references.shape[1]}) embeddings, got "
                f"{tuple(output.shape)}."
            )
        return (output @ self.references.to(output).T).amax(1)


def identity_score(gallery: Gallery, identity: str) -> IdentityScore:
    """The similarity to ``identity``'s enrolled embeddings in ``gallery``."""
    if identity not in gallery.names:
        raise ConfigError(
            f"{identity!r} is not enrolled in the gallery; enrolled: {', '.join(gallery.names)}. "
            "Enroll it first (cnnlab enroll RUN DIR) or choose one of these."
        )
    rows = [i for i, name in enumerate(gallery.identities) if name == identity]
    return IdentityScore(gallery.embeddings[rows])
