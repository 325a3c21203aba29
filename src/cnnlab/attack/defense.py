"""Adversarial training as Trainer techniques: FGSM with random start, PGD-AT and TRADES.

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
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.attack.base import check_eps, check_steps, frozen, input_gradient, project
from cnnlab.attack.gradient import PGD
from cnnlab.errors import check_choice, check_positive
from cnnlab.train.task import Batch
from cnnlab.train.techniques import LossFn, Technique

if TYPE_CHECKING:
    from cnnlab.train.config import TrainConfig
    from cnnlab.train.trainer import Trainer


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


def trades_adversarial(
    model: nn.Module,
    images: torch.Tensor,
    eps: float,
    *,
    steps: int = 10,
    alpha: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TRADES' inner maximization (Zhang et al. 2019, Algorithm 1): x′ in the ε-ball.

    x′ starts at x + 0.001·N(0, I) and takes ``steps`` L∞ steps of α (default
    ε/4, the paper's 0.007 for ε = 0.031) up KL(f(x) ‖ f(x′)) with the model in
    eval mode and its parameters frozen, as in the authors' code.
    """
    eps = check_eps(eps, "linf")
    alpha = eps / 4 if alpha is None else check_positive("alpha", alpha)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
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
    return adversarial


def trades_kl(model: nn.Module, adversarial: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """KL(f(x) ‖ f(x′)), batch mean, differentiable through both (TRADES' robust term)."""
    return F.kl_div(
        F.log_softmax(model(adversarial), dim=1), F.softmax(logits, dim=1), reduction="batchmean"
    )


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
    """TRADES (Zhang et al. 2019, eq. 5): (clean logits, loss to minimize).

    ``criterion(f(x), y) + β · KL(f(x) ‖ f(x′))`` with x′ from
    `trades_adversarial`, differentiable in the model's parameters through
    both terms, with the model in its own mode.
    """
    check_positive("beta", beta, allow_zero=True)
    criterion = criterion or nn.CrossEntropyLoss()
    adversarial = trades_adversarial(
        model, images, eps, steps=steps, alpha=alpha, generator=generator
    )
    logits = model(images)
    return logits, criterion(logits, labels) + beta * trades_kl(model, adversarial, logits)


class AdversarialExamples(Technique):
    """Train on the attack's examples instead of the clean batch (FGSM-RS or PGD-AT).

    The batch's inputs are replaced by `adversarial_batch` of the current
    model, so the training loss and accuracy are the robust ones.
    """

    name = "adversarial"

    def __init__(self, method: str, eps: float, steps: int):
        check_choice("adversarial training method", method, ("fgsm-rs", "pgd"))
        self.method, self.eps, self.steps = method, check_eps(eps, "linf"), check_steps(steps)

    def perturb(self, trainer: Trainer, batch: Batch, generator: torch.Generator) -> Batch:
        inputs = adversarial_batch(
            trainer.model,
            batch.inputs,
            batch.labels,
            self.method,
            self.eps,
            steps=self.steps,
            generator=generator,
        )
        return batch.replace(inputs=inputs)


class TRADES(Technique):
    """The TRADES loss (Zhang et al. 2019, eq. 5) around the task's clean loss.

    The task's loss of the clean batch plus β·KL(f(x) ‖ f(x′)), x′ found by
    `trades_adversarial` of the model the Trainer trains through.
    """

    name = "trades"

    def __init__(self, eps: float, steps: int, beta: float):
        self.eps, self.steps = check_eps(eps, "linf"), check_steps(steps)
        self.beta = check_positive("beta", beta, allow_zero=True)
        self.model: nn.Module | None = None

    def setup(self, trainer: Trainer) -> None:
        self.model = trainer.forward_model

    def wrap_loss(self, loss_fn: LossFn) -> LossFn:
        def trades(batch: Batch, generator: torch.Generator):
            adversarial = trades_adversarial(
                self.model, batch.inputs, self.eps, steps=self.steps, generator=generator
            )
            loss, logits = loss_fn(batch, generator)
            return loss + self.beta * trades_kl(self.model, adversarial, logits), logits

        return trades


def adversarial_training(config: TrainConfig) -> Technique | None:
    """The adversarial-training technique ``config.adv_train`` names (None for 'none')."""
    if config.adv_train == "none":
        return None
    if config.adv_train == "trades":
        return TRADES(config.adv_eps, config.adv_steps, config.trades_beta)
    return AdversarialExamples(config.adv_train, config.adv_eps, config.adv_steps)
