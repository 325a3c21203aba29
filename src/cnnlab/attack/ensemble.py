"""An AutoAttack-style ensemble: the worst case per image over diverse attacks.

Croce & Hein (2020). Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks. ICML, Sec. 5.

The attacks run one after another, each on the images that all previous ones
failed to misclassify; an image counts as robust only if every attack fails.
The ensemble here is APGD-CE, APGD-DLR and (for L∞) the gradient-free Square
attack, all untargeted: the untargeted half of AutoAttack's "standard" version
(which adds the targeted APGD-T and FAB-T).
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.attack.base import Attack, check_eps, make_generator
from cnnlab.attack.blackbox import Square
from cnnlab.attack.gradient import APGD


class AutoAttack(Attack):
    """APGD-CE, then APGD-DLR, then Square (L∞ only) on what is still robust.

    Parameters
    ----------
    eps, norm
        the threat model (``'linf'`` or ``'l2'``).
    steps
        iterations of each APGD run (100 in AutoAttack).
    queries
        query budget of Square (5000 in AutoAttack).
    seed
        seed or generator shared by the three attacks.
    """

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        norm: str = "linf",
        steps: int = 100,
        queries: int = 5000,
        seed: int | torch.Generator = 0,
    ):
        self.eps = check_eps(eps, norm)
        self.norm = norm
        generator = make_generator(seed)
        self.attacks: list[Attack] = [
            APGD(eps, steps=steps, norm=norm, loss="ce", seed=generator),
            APGD(eps, steps=steps, norm=norm, loss="dlr", seed=generator),
        ]
        if norm == "linf":
            self.attacks.append(Square(eps, queries=queries, seed=generator))

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversarial = images.clone()
        with torch.no_grad():
            robust = model(images).argmax(1) == labels
        for attack in self.attacks:
            index = robust.nonzero().flatten()
            if len(index) == 0:
                break
            candidate = attack.perturb(model, images[index], labels[index])
            with torch.no_grad():
                fooled = model(candidate).argmax(1) != labels[index]
            adversarial[index[fooled]] = candidate[fooled]
            robust[index[fooled]] = False
        return adversarial
