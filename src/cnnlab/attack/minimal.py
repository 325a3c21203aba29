"""Minimal-perturbation attacks: the smallest change that flips the decision.

These attacks have no ε: they search for the closest adversarial example (in
L2, or the sparsest one for SparseFool), so their output is a measurement of
how far each image lies from the decision boundary.

References
----------
Szegedy et al. (2014). Intriguing properties of neural networks. ICLR, Sec. 4.1.
Moosavi-Dezfooli, Fawzi & Frossard (2016). DeepFool: a simple and accurate
method to fool deep neural networks. CVPR, Algorithm 2.
Carlini & Wagner (2017). Towards evaluating the robustness of neural networks.
IEEE S&P, Sec. V-A and VI (the L2 attack).
Modas, Moosavi-Dezfooli & Frossard (2019). SparseFool: a few pixels make a big
difference. CVPR, Algorithms 2 and 3.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.attack.base import (
    Attack,
    check_steps,
    margin,
    per_sample_norm,
    succeeded,
)
from cnnlab.errors import ConfigError, check_positive


def _column(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.view(-1, *([1] * (like.ndim - 1)))


def deepfool_step(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, others: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One DeepFool step towards the closest linearized boundary (Algorithm 2, lines 5-8).

    For each candidate class k in ``others`` (N, K): f'_k = z_k − z_y and
    w'_k = ∇f'_k; the closest boundary is l = argmin_k |f'_k| / ‖w'_k‖₂ and
    the step r = (|f'_l| + 10⁻⁴) / ‖w'_l‖₂² · w'_l reaches it (the 10⁻⁴ steps
    just past it, as in the authors' code).

    Returns (logits at ``images``, the step r, the class l of the closest boundary).
    """
    x = images.detach().requires_grad_(True)
    logits = model(x)
    true = logits.gather(1, labels[:, None])
    differences = logits.gather(1, others) - true
    distances, normals = [], []
    for j in range(others.shape[1]):
        last = j + 1 == others.shape[1]
        grad = torch.autograd.grad(differences[:, j].sum(), x, retain_graph=not last)[0]
        normals.append(grad)
        distances.append(differences[:, j].detach().abs() / (per_sample_norm(grad, "l2") + 1e-12))
    closest = torch.stack(distances, 1).argmin(1)
    rows = torch.arange(len(x), device=x.device)
    w = torch.stack(normals, 1)[rows, closest]
    f = differences.detach()[rows, closest].abs()
    step = _column((f + 1e-4) / (per_sample_norm(w, "l2") ** 2 + 1e-12), w) * w
    return logits.detach(), step, others[rows, closest]


class DeepFool(Attack):
    """DeepFool, multi-class L2 (Moosavi-Dezfooli et al. 2016, Algorithm 2).

    Repeatedly linearizes the classifier around the current point and steps to
    the closest linearized boundary; the result is x + (1 + overshoot)·Σr_i
    (clipped to [0, 1]).  For an affine binary classifier one step is the exact
    minimal perturbation |f(x)|/‖w‖₂.  Images already misclassified (or, with
    ``labels`` = the model's own predictions, none) are returned unchanged.

    Parameters
    ----------
    steps
        at most this many linearizations.
    overshoot
        the paper's η = 0.02, to cross the boundary rather than land on it.
    candidates
        the classes considered are the ``candidates`` most likely ones
        at the clean image (10 in the paper's code), besides the label.
    """

    def __init__(self, *, steps: int = 50, overshoot: float = 0.02, candidates: int = 10):
        self.steps = check_steps(steps)
        self.overshoot = check_positive("overshoot", overshoot, allow_zero=True)
        self.candidates = check_steps(candidates)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = self.boundary(model, images, labels)[0]
        return (images + (1 + self.overshoot) * total).clamp(0, 1)

    def boundary(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(r_tot, class reached): x + (1 + overshoot)·r_tot is adversarial, clipped to [0, 1].

        r_tot is returned already clipped so that x + (1 + overshoot)·r_tot stays in [0, 1].
        """
        with torch.no_grad():
            logits = model(images)
        count = min(self.candidates, logits.shape[1]) - 1
        if count < 1:
            raise ConfigError("DeepFool needs a model with at least 2 classes.")
        others = logits.scatter(1, labels[:, None], float("-inf")).topk(count, dim=1).indices
        total = torch.zeros_like(images)
        reached = logits.argmax(1)
        active = reached == labels
        scale = 1 + self.overshoot
        for _ in range(self.steps):
            index = active.nonzero().flatten()
            if len(index) == 0:
                break
            point = (images[index] + scale * total[index]).clamp(0, 1)
            step_logits, step, _ = deepfool_step(model, point, labels[index], others[index])
            fooled = step_logits.argmax(1) != labels[index]
            reached[index[fooled]] = step_logits[fooled].argmax(1)
            active[index[fooled]] = False
            moving = index[~fooled]
            total[moving] += step[~fooled]
        if active.any():
            index = active.nonzero().flatten()
            with torch.no_grad():
                reached[index] = model((images[index] + scale * total[index]).clamp(0, 1)).argmax(1)
        total = ((images + scale * total).clamp(0, 1) - images) / scale
        return total, reached


class CarliniWagner(Attack):
    """Carlini & Wagner's L2 attack (2017, Sec. V-A), with the binary search over c (Sec. VI).

    Optimizes w with Adam, where x' = ½(tanh(w) + 1) stays in [0, 1] for free:

        minimize ‖x' − x‖₂² + c · max(Z(x')_y − max_{i≠y} Z(x')_i, −κ)      (untargeted)
        minimize ‖x' − x‖₂² + c · max(max_{i≠t} Z(x')_i − Z(x')_t, −κ)      (targeted)

    and returns, per image, the closest x' that succeeded (the image itself if
    none did).  ``search_steps`` > 1 adapts c per image: halve the interval
    towards smaller c after a success, multiply c by 10 (or bisect) after a failure.
    Each run stops early when the objective has not decreased by 0.01 % over a
    tenth of the steps (the paper's ``abort_early``).
    """

    def __init__(
        self,
        *,
        c: float = 1.0,
        kappa: float = 0.0,
        steps: int = 100,
        lr: float = 0.01,
        search_steps: int = 1,
        targeted: bool = False,
    ):
        self.c = check_positive("c", c)
        self.kappa = check_positive("kappa", kappa, allow_zero=True)
        self.steps = check_steps(steps)
        self.lr = check_positive("lr", lr)
        self.search_steps = check_steps(search_steps)
        self.targeted = targeted

    def _hinge(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        m = margin(logits, labels)
        return (-m if self.targeted else m).clamp(min=-self.kappa)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        c = torch.full((len(images),), float(self.c), device=images.device)
        low = torch.zeros_like(c)
        high = torch.full_like(c, float("inf"))
        best = images.clone()
        best_l2 = torch.full_like(c, float("inf"))
        for _ in range(self.search_steps):
            success = self._optimize(model, images, labels, c, best, best_l2)
            high = torch.where(success, torch.minimum(high, c), high)
            low = torch.where(success, low, torch.maximum(low, c))
            c = torch.where(high.isfinite(), (low + high) / 2, c * 10)
        return best

    def _optimize(self, model, images, labels, c, best, best_l2) -> torch.Tensor:
        """One Adam run at constants ``c``; updates ``best``/``best_l2`` in place."""
        w = torch.atanh((images * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)).requires_grad_(True)
        optimizer = torch.optim.Adam([w], lr=self.lr)
        success = torch.zeros(len(images), dtype=torch.bool, device=images.device)
        previous = float("inf")
        check_every = max(self.steps // 10, 1)
        for step in range(self.steps):
            adversarial = (torch.tanh(w) + 1) / 2
            l2 = (adversarial - images).flatten(1).pow(2).sum(1)
            logits = model(adversarial)
            objective = (l2 + c * self._hinge(logits, labels)).sum()
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            with torch.no_grad():
                ok = succeeded(logits, labels, self.targeted)
                success |= ok
                closer = ok & (l2 < best_l2)
                best[closer] = adversarial[closer]
                best_l2[closer] = l2[closer]
            if step % check_every == 0:
                if objective.item() > previous * 0.9999:
                    break
                previous = objective.item()
        return success


class SzegedyLBFGS(Attack):
    """The box-constrained L-BFGS attack of Szegedy et al. (2014, Sec. 4.1).

    For a target class l, minimize c·‖r‖₂² + loss_f(x + r, l) subject to
    x + r ∈ [0, 1]^m with L-BFGS-B (the box as bounds), and line-search c:
    the largest c (the smallest perturbation) whose minimizer is still
    classified as l.  (The paper writes "minimum c"; with c weighting ‖r‖, it
    is the largest c that gives the smallest r.)  ‖r‖₂² is used for ‖r‖ so
    that the objective is smooth at r = 0.  c is searched geometrically
    (×10 per success from ``c_init``) and then by bisection in log scale.

    Untargeted (``targeted=False``): l is each image's runner-up class at the
    clean image.  Images for which no c succeeds are returned unchanged.
    """

    def __init__(
        self,
        *,
        c_init: float = 0.01,
        search_steps: int = 8,
        max_iter: int = 50,
        targeted: bool = False,
    ):
        self.c_init = check_positive("c_init", c_init)
        self.search_steps = check_steps(search_steps)
        self.max_iter = check_steps(max_iter)
        self.targeted = targeted

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.targeted:
            targets = labels
        else:
            with torch.no_grad():
                logits = model(images)
            targets = logits.scatter(1, labels[:, None], float("-inf")).argmax(1)
        c = torch.full((len(images),), self.c_init, dtype=torch.float64)
        low = torch.zeros_like(c)  # largest c known to succeed (0: none yet)
        high = torch.full_like(c, float("inf"))  # smallest c known to fail
        best = images.clone()
        best_l2 = torch.full((len(images),), float("inf"), device=images.device)
        for _ in range(self.search_steps):
            candidate = self._minimize(model, images, targets, c)
            with torch.no_grad():
                ok = model(candidate).argmax(1) == targets
            l2 = per_sample_norm(candidate - images, "l2")
            closer = ok & (l2 < best_l2)
            best[closer], best_l2[closer] = candidate[closer], l2[closer]
            ok = ok.cpu()
            low = torch.where(ok, torch.maximum(low, c), low)
            high = torch.where(ok, high, torch.minimum(high, c))
            c = torch.where(high.isinf(), c * 10, torch.where(low > 0, (low * high).sqrt(), c / 10))
        return best

    def _minimize(
        self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor, c: torch.Tensor
    ) -> torch.Tensor:
        """L-BFGS-B on the whole batch at once: the objective is a sum of independent terms."""
        shape, device = images.shape, images.device
        weights = c.to(device, torch.float32)

        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            x = torch.from_numpy(flat).to(device, torch.float32).view(shape).requires_grad_(True)
            distance = (x - images).flatten(1).pow(2).sum(1)
            loss = F.cross_entropy(model(x), targets, reduction="none")
            total = (weights * distance + loss).sum()
            grad = torch.autograd.grad(total, x)[0]
            return total.item(), grad.cpu().double().numpy().ravel()

        start = images.detach().cpu().double().numpy().ravel()
        result = scipy.optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=scipy.optimize.Bounds(0.0, 1.0),
            options={"maxiter": self.max_iter},
        )
        return torch.from_numpy(result.x).to(device, torch.float32).view(shape).clamp(0, 1)


def linear_solver(
    images: torch.Tensor, normal: torch.Tensor, point: torch.Tensor, active: torch.Tensor
) -> torch.Tensor:
    """Cross the hyperplane {z : w·(z − x_B) = 0} changing as few pixels as possible.

    Modas et al. (2019), Algorithm 2: move the coordinate with the largest |w_j|
    all the way needed (by (|w·(x − x_B)| + 10⁻³)/|w_j|) towards the
    hyperplane, clip to [0, 1], exclude it and repeat until the sign of
    w·(x − x_B) flips or no coordinate is left.  Only rows where ``active`` are moved.
    """
    x = images.flatten(1).clone()
    w = normal.flatten(1)
    anchor = point.flatten(1)
    remaining = w.clone()
    start_side = ((x - anchor) * w).sum(1).sign()
    moving = active & (start_side != 0)
    rows = torch.arange(len(x), device=x.device)
    for _ in range(x.shape[1]):
        moving &= remaining.abs().amax(1) > 0
        if not moving.any():
            break
        side = ((x - anchor) * w).sum(1)
        j = remaining.abs().argmax(1)
        w_j = remaining[rows, j]
        amount = (side.abs() + 1e-3) / w_j.abs().clamp(min=1e-12)
        value = (x[rows, j] - start_side * w_j.sign() * amount).clamp(0, 1)
        x[rows, j] = torch.where(moving, value, x[rows, j])
        remaining[rows[moving], j[moving]] = 0
        moving &= ((x - anchor) * w).sum(1).sign() == start_side
    return x.view_as(images)


class SparseFool(Attack):
    """SparseFool (Modas et al. 2019, Algorithm 3): sparse perturbations via DeepFool.

    At each iteration DeepFool finds the boundary point x_B = x_i + λ·r of the
    current point and the boundary's normal w there; `linear_solver`
    then crosses the linearized boundary changing few pixels.  The result is
    x₀ + (1 + overshoot)·(x_i − x₀), clipped to [0, 1].  λ ≥ 1 trades sparsity
    (small λ) for speed and success (large λ); the paper uses λ = 3 on ImageNet.
    """

    def __init__(
        self,
        *,
        lam: float = 3.0,
        steps: int = 20,
        overshoot: float = 0.02,
        deepfool_steps: int = 50,
        candidates: int = 10,
    ):
        if lam < 1:
            raise ConfigError(f"lam (λ) must be >= 1, got {lam!r}.")
        self.lam = lam
        self.steps = check_steps(steps)
        self.overshoot = check_positive("overshoot", overshoot, allow_zero=True)
        self.deepfool = DeepFool(steps=deepfool_steps, overshoot=0.0, candidates=candidates)

    def perturb(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        current = images.clone()
        result = images.clone()
        with torch.no_grad():
            active = model(images).argmax(1) == labels
        for _ in range(self.steps):
            if not active.any():
                break
            index = active.nonzero().flatten()
            x_i, y = current[index], labels[index]
            r, reached = self.deepfool.boundary(model, x_i, y)
            point = (x_i + self.lam * r).clamp(0, 1)
            normal = self._normal(model, (x_i + r).clamp(0, 1), y, reached)
            moved = linear_solver(x_i, normal, point, reached != y)
            current[index] = moved
            candidate = (images[index] + (1 + self.overshoot) * (moved - images[index])).clamp(0, 1)
            result[index] = candidate
            with torch.no_grad():
                active[index] = model(candidate).argmax(1) == y
        return result

    @staticmethod
    def _normal(
        model: nn.Module, images: torch.Tensor, labels: torch.Tensor, reached: torch.Tensor
    ) -> torch.Tensor:
        """∇(z_reached − z_label) at the boundary point: the normal of the decision boundary."""
        x = images.detach().requires_grad_(True)
        logits = model(x)
        gap = logits.gather(1, reached[:, None]) - logits.gather(1, labels[:, None])
        return torch.autograd.grad(gap.sum(), x)[0]
