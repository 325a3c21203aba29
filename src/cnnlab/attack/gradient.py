"""Gradient attacks inside an ε-ball: FGSM, BIM, PGD, MI-FGSM and APGD.

FGSM, BIM, MI-FGSM and PGD are one loop with different settings (`PGD`):
start (the clean image or a random point of the ball), step size α, number of
steps and gradient momentum.  Each step ascends the loss along the steepest
direction of the norm (sign of the gradient for L∞, the normalized gradient
for L2) and projects back onto the ball and the [0, 1] box.

References
----------
Goodfellow, Shlens & Szegedy (2015). Explaining and harnessing adversarial
examples. ICLR. (FGSM, Sec. 4: x + ε·sign(∇ₓJ(θ, x, y)).)
Kurakin, Goodfellow & Bengio (2017). Adversarial examples in the physical world.
ICLR workshop. (BIM / I-FGSM, Sec. 2.2.)
Madry, Makelov, Schmidt, Tsipras & Vladu (2018). Towards deep learning models
resistant to adversarial attacks. ICLR. (PGD, eq. 2, with a random start.)
Dong et al. (2018). Boosting adversarial attacks with momentum. CVPR.
(MI-FGSM, Algorithm 1: g ← μ·g + ∇/‖∇‖₁.)
Croce & Hein (2020). Reliable evaluation of adversarial robustness with an
ensemble of diverse parameter-free attacks. ICML. (APGD, Algorithm 1, and the
DLR loss, eq. 6 and 7.)
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.attack.base import (
    Attack,
    check_eps,
    check_steps,
    cross_entropy,
    input_gradient,
    make_generator,
    per_sample_norm,
    project,
    random_in_ball,
    steepest_ascent,
    succeeded,
)
from cnnlab.errors import ConfigError, check_choice, check_positive

APGD_LOSSES = ("ce", "dlr")


class PGD(Attack):
    """Projected gradient descent on the cross-entropy (Madry et al. 2018, eq. 2).

    Parameters
    ----------
    eps
        radius of the ball (pixels are in [0, 1]: 8/255, 0.3 ...).
    steps
        iterations.
    alpha
        step size; default 2.5·ε/steps (Madry et al.: enough to reach the
        border of the ball from any start).
    norm
        ``'linf'`` or ``'l2'``.
    random_start
        start from a uniform point of the ball instead of the image.
    restarts
        runs from new random starts for the images not yet fooled.
    momentum
        μ of MI-FGSM (Dong et al. 2018); 0 for plain PGD.
    targeted
        ``labels`` are the classes to reach (descend their cross-entropy).
    seed
        seed or generator of the random starts.
    """

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        steps: int = 10,
        alpha: float | None = None,
        norm: str = "linf",
        random_start: bool = True,
        restarts: int = 1,
        momentum: float = 0.0,
        targeted: bool = False,
        seed: int | torch.Generator = 0,
    ):
        self.eps = check_eps(eps, norm)
        self.norm = norm
        self.steps = check_steps(steps)
        self.alpha = 2.5 * self.eps / steps if alpha is None else check_positive("alpha", alpha)
        self.random_start = random_start
        self.restarts = check_steps(restarts)
        self.momentum = check_positive("momentum", momentum, allow_zero=True)
        self.targeted = targeted
        self.generator = make_generator(seed)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversarial = images.clone()
        todo = torch.ones(len(images), dtype=torch.bool, device=images.device)
        for restart in range(self.restarts):
            index = todo.nonzero().flatten()
            x = self._run(model, images[index], labels[index])
            adversarial[index] = x
            if restart + 1 < self.restarts:
                with torch.no_grad():
                    todo[index] = ~succeeded(model(x), labels[index], self.targeted)
                if not todo.any():
                    break
        return adversarial

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """Back into the image box [0, 1] (dense attacks on noisy inputs override it)."""
        return x.clamp(0, 1)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The per-image loss the attack ascends: cross-entropy (dense attacks override it)."""
        return cross_entropy(logits, labels)

    def _run(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        sign = -1.0 if self.targeted else 1.0

        def objective(logits: torch.Tensor) -> torch.Tensor:
            return sign * self.loss(logits, labels)

        adversarial = images
        if self.random_start:
            start = random_in_ball(images, self.eps, self.norm, self.generator)
            adversarial = self.clip(images + start)
        velocity = torch.zeros_like(images)
        for _ in range(self.steps):
            _, grad = input_gradient(model, adversarial, objective)
            if self.momentum:
                l1 = per_sample_norm(grad, "l1").view(-1, *([1] * (grad.ndim - 1)))
                grad = velocity = self.momentum * velocity + grad / (l1 + 1e-12)
            delta = adversarial - images + self.alpha * steepest_ascent(grad, self.norm)
            adversarial = self.clip(images + project(delta, self.eps, self.norm))
        return adversarial


class FGSM(PGD):
    """Fast gradient sign method: one step of size ε from the image (Goodfellow et al. 2015).

    With ``norm='l2'`` it is the fast gradient method x + ε·∇/‖∇‖₂.
    """

    def __init__(self, eps: float = 8 / 255, *, norm: str = "linf", targeted: bool = False):
        super().__init__(eps, steps=1, alpha=eps, norm=norm, random_start=False, targeted=targeted)


class BIM(PGD):
    """Basic iterative method / I-FGSM (Kurakin et al. 2017): PGD from the clean image."""

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        steps: int = 10,
        alpha: float | None = None,
        norm: str = "linf",
        targeted: bool = False,
    ):
        super().__init__(
            eps, steps=steps, alpha=alpha, norm=norm, random_start=False, targeted=targeted
        )


class MIFGSM(PGD):
    """Momentum iterative FGSM (Dong et al. 2018, Algorithm 1): α = ε/T, decay μ = 1."""

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        steps: int = 10,
        decay: float = 1.0,
        alpha: float | None = None,
        norm: str = "linf",
        targeted: bool = False,
    ):
        super().__init__(
            eps,
            steps=steps,
            alpha=eps / steps if alpha is None else alpha,
            norm=norm,
            random_start=False,
            momentum=decay,
            targeted=targeted,
        )


def dlr_loss(
    logits: torch.Tensor, labels: torch.Tensor, source: torch.Tensor | None = None
) -> torch.Tensor:
    """Difference of logits ratio (Croce & Hein 2020, eq. 6; targeted: eq. 7), to maximize.

    Untargeted: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3).  Targeted (``labels``
    are targets t, ``source`` the classes to leave): −(z_s − z_t) /
    (z_π1 − (z_π3 + z_π4)/2), with π the logits sorted in decreasing order.
    It is invariant to shifts and scales of the logits.
    """
    ranked = logits.sort(dim=1, descending=True).values
    if source is None:
        true = logits.gather(1, labels[:, None]).squeeze(1)
        other = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
        return -(true - other) / (ranked[:, 0] - ranked[:, 2] + 1e-12)
    z_s = logits.gather(1, source[:, None]).squeeze(1)
    z_t = logits.gather(1, labels[:, None]).squeeze(1)
    return -(z_s - z_t) / (ranked[:, 0] - (ranked[:, 2] + ranked[:, 3]) / 2 + 1e-12)


def apgd_checkpoints(steps: int) -> list[int]:
    """Iterations w_j = ⌈p_j·N⌉ at which APGD may halve its step (Croce & Hein 2020, Sec. 3.2).

    p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06).  The p_j
    are kept in exact hundredths: in floating point 0.57·100 is 57.000…01, whose
    ceiling would be 58.
    """
    p_prev, p = 0, 22  # hundredths
    points = []
    while p < 100:
        points.append(-(-p * steps // 100))  # ⌈p·N/100⌉ in integers
        p_prev, p = p, p + max(p - p_prev - 3, 6)
    return sorted(set(points) - {0})


class APGD(Attack):
    """Auto-PGD (Croce & Hein 2020, Algorithm 1): PGD with momentum and an adaptive step.

    The step starts at 2ε and is halved at a checkpoint w_j when (1) the loss
    increased in fewer than ρ·(w_j − w_{j−1}) of the steps since the last one,
    or (2) the step was not halved and the best loss did not improve since the
    last checkpoint; the iterate then restarts from the best point so far.

    Parameters
    ----------
    eps, norm
        the threat model (``'linf'`` or ``'l2'``).
    steps
        iterations N (100 in AutoAttack).
    loss
        ``'ce'`` (cross-entropy, APGD-CE) or ``'dlr'`` (APGD-DLR, needs >= 3
        classes, 4 when targeted).
    restarts
        random restarts for the images not yet fooled.
    rho
        the fraction ρ of condition (1); 0.75 in the paper.
    targeted
        ``labels`` are targets.  Targeted DLR leaves the model's clean
        prediction (which equals the true class on the images that matter).
    seed
        seed or generator of the random starts.
    """

    def __init__(
        self,
        eps: float = 8 / 255,
        *,
        steps: int = 100,
        norm: str = "linf",
        loss: str = "ce",
        restarts: int = 1,
        rho: float = 0.75,
        targeted: bool = False,
        seed: int | torch.Generator = 0,
    ):
        self.eps = check_eps(eps, norm)
        self.norm = norm
        self.steps = check_steps(steps)
        self.loss = check_choice("APGD loss", loss, APGD_LOSSES)
        self.restarts = check_steps(restarts)
        if not 0 < rho < 1:
            raise ConfigError(f"rho must be in (0, 1), got {rho!r}.")
        self.rho = rho
        self.targeted = targeted
        self.generator = make_generator(seed)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        adversarial = images.clone()
        todo = torch.ones(len(images), dtype=torch.bool, device=images.device)
        for _ in range(self.restarts):
            index = todo.nonzero().flatten()
            x, fooled = self._run(model, images[index], labels[index])
            adversarial[index] = x
            todo[index] = ~fooled
            if not todo.any():
                break
        return adversarial

    def _objective(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor):
        if self.loss == "ce":
            sign = -1.0 if self.targeted else 1.0
            return lambda logits: sign * cross_entropy(logits, labels)
        with torch.no_grad():
            logits = model(images)
        needed = 4 if self.targeted else 3
        if logits.shape[1] < needed:
            raise ConfigError(
                f"The DLR loss needs at least {needed} classes, the model has {logits.shape[1]}; "
                "use loss='ce'."
            )
        source = logits.argmax(1) if self.targeted else None
        return lambda z: dlr_loss(z, labels, source)

    def _run(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        objective = self._objective(model, x, y)
        shape = (-1, *([1] * (x.ndim - 1)))

        def into_ball(point: torch.Tensor) -> torch.Tensor:
            return (x + project(point - x, self.eps, self.norm)).clamp(0, 1)

        current = into_ball(x + random_in_ball(x, self.eps, self.norm, self.generator))
        logits, grad = input_gradient(model, current, objective)
        loss = objective(logits)
        fooled = succeeded(logits, y, self.targeted)
        found = current.clone()  # the latest point that fooled the model
        best, best_grad, best_loss = current.clone(), grad.clone(), loss.clone()
        step = torch.full((len(x),), 2 * self.eps, device=x.device)
        previous = current
        increases = torch.zeros(len(x), device=x.device)
        last_checkpoint, loss_at_checkpoint = 0, best_loss.clone()
        halved = torch.ones(len(x), dtype=torch.bool, device=x.device)
        checkpoints = set(apgd_checkpoints(self.steps))
        for k in range(self.steps):
            # eq. (3): z = P(x_k + η∇f); x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}))
            alpha = 0.75 if k > 0 else 1.0
            z = into_ball(current + step.view(shape) * steepest_ascent(grad, self.norm))
            following = into_ball(
                current + alpha * (z - current) + (1 - alpha) * (current - previous)
            )
            previous, current = current, following
            logits, grad = input_gradient(model, current, objective)
            new_loss = objective(logits)
            increases += (new_loss > loss).float()
            loss = new_loss
            now = succeeded(logits, y, self.targeted)
            found[now], fooled = current[now], fooled | now
            improved = loss > best_loss
            best[improved], best_grad[improved] = current[improved], grad[improved]
            best_loss = torch.where(improved, loss, best_loss)
            if k + 1 in checkpoints:
                oscillating = increases < self.rho * (k + 1 - last_checkpoint)
                stalled = ~halved & (loss_at_checkpoint >= best_loss)
                halved = oscillating | stalled
                step = torch.where(halved, step / 2, step)
                current[halved], grad[halved] = best[halved], best_grad[halved]
                increases.zero_()
                last_checkpoint, loss_at_checkpoint = k + 1, best_loss.clone()
        return torch.where(fooled.view(shape), found, best), fooled
