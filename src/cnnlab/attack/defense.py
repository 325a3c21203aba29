"""Adversarial training as a Trainer option: FGSM with random start, PGD-AT and TRADES.

All three solve (approximately) the saddle-point problem of Madry et al.
(2018, eq. 2.1), min_θ E_(x,y) [max_{δ∈S} L(θ, x + δ, y)], by replacing (or
regularizing) each training batch with adversarial examples of the current model.

References
----------
Madry et al. (2018). Towards deep learning models resistant to adversarial
attacks. ICLR. (PGD-AT: PGD with a random start, Sec. 4 and Appendix.)
Wong, Rice & Kolter (2020). Fast is better than free: revisiting adversarial
training. ICLR. (FGSM-RS, Algorithm 3: δ ~ U(−ε, ε), one step of α = 1.25ε.)
Zhang et al. (2019). Theoretically principled trade-off between robustness and
accuracy. ICML. (TRADES, eq. 5: CE(f(x), y) + β·KL(f(x) ‖ f(x′)), with x′
maximizing the KL term in the ε-ball; Algorithm 1.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.attack.base import check_eps, check_steps, frozen, input_gradient, project
from cnnlab.attack.gradient import PGD
from cnnlab.errors import check_choice, check_positive

ADVERSARIAL_TRAINING = ("none", "fgsm-rs", "pgd", "trades")


def adversarial_batch(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    method: str,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The training batch replaced by L∞ adversarial examples of the current model.

    ``method``: ``'fgsm-rs'`` (one step of α = 1.25ε from a uniform random
    start; Wong et al. 2020) or ``'pgd'`` (``steps`` steps of α = 2.5ε/steps
    from a random start; Madry et al. 2018).  The model keeps its mode (in
    training mode batch norm uses the batch statistics, as in both papers'
    code); its parameters get no gradient from the attack.
    """
    check_choice("adversarial training method", method, ("fgsm-rs", "pgd"))
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    if method == "fgsm-rs":
        attack = PGD(eps, steps=1, alpha=1.25 * eps, seed=generator)
    else:
        attack = PGD(eps, steps=steps, alpha=alpha, seed=generator)
    with frozen(model, eval_mode=False):
        return attack.perturb(model, images.detach(), labels).detach()


def trades_loss(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    beta: float = 6.0,
    steps: int = 10,
    alpha: float | None = None,
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """TRADES (Zhang et al. 2019, eq. 5 and Algorithm 1): (clean logits, loss to minimize).

    x′ starts at x + 0.001·N(0, I) and takes ``steps`` L∞ steps of α (default
    ε/4, the paper's 0.007 for ε = 0.031) up KL(f(x) ‖ f(x′)) with the model in
    eval mode, as in the authors' code; the loss is then
    ``criterion(f(x), y) + β · KL(f(x) ‖ f(x′))`` (batch mean), differentiable in
    the model's parameters through both terms, with the model in its own mode.
    """
    eps = check_eps(eps, "linf")
    check_positive("beta", beta, allow_zero=True)
    alpha = eps / 4 if alpha is None else check_positive("alpha", alpha)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    criterion = criterion or nn.CrossEntropyLoss()
    images = images.detach()
    with frozen(model):
        with torch.no_grad():
            clean = F.softmax(model(images), dim=1)

        def kl(logits: torch.Tensor) -> torch.Tensor:
            return F.kl_div(F.log_softmax(logits, dim=1), clean, reduction="none").sum(1)

        noise = torch.randn(images.shape, generator=generator).to(images.device)
        adversarial = (images + 0.001 * noise).clamp(0, 1)
        for _ in range(check_steps(steps)):
            _, grad = input_gradient(model, adversarial, kl)
            delta = adversarial - images + alpha * grad.sign()
            adversarial = (images + project(delta, eps, "linf")).clamp(0, 1)
    logits = model(images)
    robust = F.kl_div(
        F.log_softmax(model(adversarial), dim=1), F.softmax(logits, dim=1), reduction="batchmean"
    )
    return logits, criterion(logits, labels) + beta * robust


@dataclass
class AdversarialTraining:
    """What the Trainer calls per batch: ``(logits, loss) = adversary(model, criterion, x, y, g)``.

    ``method`` is one of :data:`ADVERSARIAL_TRAINING`; ``'none'`` is standard
    training.  For ``'fgsm-rs'`` and ``'pgd'`` the logits and the loss are
    those of the adversarial batch (so the training accuracy is the robust
    one); for ``'trades'`` they are the clean logits and the TRADES loss.
    """

    method: str = "none"
    eps: float = 8 / 255
    steps: int = 10
    beta: float = 6.0

    def __post_init__(self) -> None:
        check_choice("adversarial training method", self.method, ADVERSARIAL_TRAINING)
        if self.method != "none":
            check_eps(self.eps, "linf")
            check_steps(self.steps)
            check_positive("beta", self.beta, allow_zero=True)

    def __call__(
        self,
        model: nn.Module,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        images: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.method == "trades":
            return trades_loss(
                model,
                images,
                labels,
                self.eps,
                beta=self.beta,
                steps=self.steps,
                criterion=criterion,
                generator=generator,
            )
        if self.method != "none":
            images = adversarial_batch(
                model, images, labels, self.method, self.eps, steps=self.steps, generator=generator
            )
        logits = model(images)
        return logits, criterion(logits, labels)
