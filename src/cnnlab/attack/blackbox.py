"""The Square attack: a gradient-free, score-based attack in the L∞ ball.

Andriushchenko, Croce, Flammarion & Hein (2020). Square attack: a
query-efficient black-box adversarial attack via random search. ECCV.

Random search over the vertices of the ε-ball (Algorithm 1 and Sec. 3.1): start
from vertical stripes of ±ε, then at each query set a random square window
(side s, the same in every channel) of each image to x ± ε with one random sign
per channel, and keep the change only if it lowers the margin loss.  The
window's area is a fraction p of the image that shrinks on the paper's
schedule.  Images the model already gets wrong (or, targeted, already
classifies as the target) are returned unchanged.  Only the model's outputs
are used, never its gradients, so a model that "masks" its gradients is no
obstacle: the attack doubles as a check
(`cnnlab.attack.evaluate.gradient_masking_check`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cnnlab.attack.base import Attack, check_eps, check_steps, cross_entropy, make_generator, margin
from cnnlab.errors import ConfigError

# Andriushchenko et al., schedule of p for 10,000 queries (rescaled to the budget):
# p is halved after each of these iteration counts.
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def square_fraction(p_init: float, query: int, queries: int) -> float:
    """The fraction p of pixels in the square at ``query`` out of ``queries``."""
    scaled = int(query / queries * 10_000)
    return p_init / 2 ** sum(scaled > h for h in _HALVINGS)


def _column(mask: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, 1, 1, 1)


class Square(Attack):
    """Square attack, L∞ (Andriushchenko et al. 2020, Algorithm 1 with the L∞ sampler).

    Parameters
    ----------
    eps
        radius of the L∞ ball.
    queries
        model evaluations per image (including the first one).
    p_init
        initial fraction of pixels changed per query (0.8 as in AutoAttack).
    targeted
        ``labels`` are targets; the loss is then their cross-entropy.
    seed
        seed or generator of the random search.
    """

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        queries: int = 1000,
        p_init: float = 0.8,
        targeted: bool = False,
        seed: int | torch.Generator = 0,
    ):
        self.eps = check_eps(eps, "linf")
        self.queries = check_steps(queries)
        if not 0 < p_init <= 1:
            raise ConfigError(f"p_init must be in (0, 1], got {p_init!r}.")
        self.p_init = p_init
        self.targeted = targeted
        self.generator = make_generator(seed)

    def _scores(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(margin, loss): margin > 0 while not fooled; both are minimized."""
        if self.targeted:
            return -margin(logits, labels), cross_entropy(logits, labels)
        m = margin(logits, labels)
        return m, m

    def _signs(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return (torch.randint(0, 2, shape, generator=self.generator) * 2 - 1).float().to(device)

    @torch.no_grad()
    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        stripes = self._signs((n, c, 1, w), images.device)
        # images already fooled (margin <= 0) are returned unchanged, as in the paper's code
        done = self._scores(model(images), labels)[0] <= 0
        best = torch.where(_column(done), images, (images + self.eps * stripes).clamp(0, 1))
        best_margin, best_loss = self._scores(model(best), labels)
        best_margin[done] = 0
        rows = torch.arange(h, device=images.device).view(1, 1, h, 1)
        cols = torch.arange(w, device=images.device).view(1, 1, 1, w)
        for query in range(1, self.queries):
            active = (best_margin > 0).nonzero().flatten()
            if len(active) == 0:
                break
            p = square_fraction(self.p_init, query - 1, self.queries)
            side = min(max(round(math.sqrt(p * h * w)), 1), min(h, w) - 1)
            top = torch.randint(0, h - side + 1, (len(active), 1, 1, 1), generator=self.generator)
            left = torch.randint(0, w - side + 1, (len(active), 1, 1, 1), generator=self.generator)
            top, left = top.to(images.device), left.to(images.device)
            window = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
            clean = images[active]
            vertex = (clean + self.eps * self._signs((len(active), c, 1, 1), images.device)).clamp(
                0, 1
            )
            candidate = torch.where(window, vertex, best[active])
            new_margin, new_loss = self._scores(model(candidate), labels[active])
            better = new_loss < best_loss[active]
            improved = active[better]
            best[improved] = candidate[better]
            best_margin[improved] = new_margin[better]
            best_loss[improved] = new_loss[better]
        return best
