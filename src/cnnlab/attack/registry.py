"""Attacks by name, for the command line: ``create_attack('pgd', eps=8/255, steps=20)``.

Each entry says which norms the attack works in, whether it is bounded by an
ε (or searches for a minimal perturbation), whether it has a targeted variant,
and how it is built from the common options.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cnnlab.attack.base import Attack
from cnnlab.attack.blackbox import Square
from cnnlab.attack.ensemble import AutoAttack
from cnnlab.attack.gradient import APGD, BIM, FGSM, MIFGSM, PGD
from cnnlab.attack.minimal import CarliniWagner, DeepFool, SparseFool, SzegedyLBFGS
from cnnlab.errors import ConfigError, check_choice


@dataclass(frozen=True)
class AttackInfo:
    description: str
    norms: tuple[str, ...]
    bounded: bool  # takes an eps
    targeted: bool  # has a targeted variant
    build: Callable[..., Attack]  # (eps, norm, steps, targeted, seed) -> Attack; steps may be None


def _steps(steps: int | None, name: str = "steps") -> dict[str, int]:
    return {} if steps is None else {name: steps}


ATTACKS: dict[str, AttackInfo] = {
    "fgsm": AttackInfo(
        "fast gradient sign method, one step (Goodfellow et al. 2015)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: FGSM(eps, norm=norm, targeted=targeted),
    ),
    "bim": AttackInfo(
        "basic iterative method / I-FGSM (Kurakin et al. 2017)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: BIM(
            eps, norm=norm, targeted=targeted, **_steps(steps)
        ),
    ),
    "pgd": AttackInfo(
        "projected gradient descent with random start (Madry et al. 2018)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: PGD(
            eps, norm=norm, targeted=targeted, seed=seed, **_steps(steps)
        ),
    ),
    "mifgsm": AttackInfo(
        "momentum iterative FGSM (Dong et al. 2018)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: MIFGSM(
            eps, norm=norm, targeted=targeted, **_steps(steps)
        ),
    ),
    "apgd-ce": AttackInfo(
        "Auto-PGD on the cross-entropy (Croce & Hein 2020)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: APGD(
            eps, norm=norm, loss="ce", targeted=targeted, seed=seed, **_steps(steps)
        ),
    ),
    "apgd-dlr": AttackInfo(
        "Auto-PGD on the difference-of-logits-ratio loss (Croce & Hein 2020)",
        ("linf", "l2"),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: APGD(
            eps, norm=norm, loss="dlr", targeted=targeted, seed=seed, **_steps(steps)
        ),
    ),
    "square": AttackInfo(
        "Square attack, gradient-free; --steps is the query budget (Andriushchenko et al. 2020)",
        ("linf",),
        True,
        True,
        lambda eps, norm, steps, targeted, seed: Square(
            eps, targeted=targeted, seed=seed, **_steps(steps, "queries")
        ),
    ),
    "autoattack": AttackInfo(
        "APGD-CE + APGD-DLR + Square, worst case per image (Croce & Hein 2020)",
        ("linf", "l2"),
        True,
        False,
        lambda eps, norm, steps, targeted, seed: AutoAttack(
            eps, norm=norm, seed=seed, **_steps(steps)
        ),
    ),
    "deepfool": AttackInfo(
        "minimal L2 perturbation by iterative linearization (Moosavi-Dezfooli et al. 2016)",
        ("l2",),
        False,
        False,
        lambda eps, norm, steps, targeted, seed: DeepFool(**_steps(steps)),
    ),
    "cw": AttackInfo(
        "Carlini-Wagner L2 with a binary search over c (Carlini & Wagner 2017)",
        ("l2",),
        False,
        True,
        lambda eps, norm, steps, targeted, seed: CarliniWagner(
            targeted=targeted, search_steps=5, **_steps(steps)
        ),
    ),
    "lbfgs": AttackInfo(
        "box-constrained L-BFGS with a line search over c (Szegedy et al. 2014)",
        ("l2",),
        False,
        True,
        lambda eps, norm, steps, targeted, seed: SzegedyLBFGS(
            targeted=targeted, **_steps(steps, "max_iter")
        ),
    ),
    "sparsefool": AttackInfo(
        "sparse (few-pixel) perturbations via DeepFool (Modas et al. 2019)",
        ("l0",),
        False,
        False,
        lambda eps, norm, steps, targeted, seed: SparseFool(**_steps(steps)),
    ),
}


def parse_eps(text: str) -> float:
    """A radius written as a decimal or a fraction: ``'0.3'``, ``'8/255'``."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise ConfigError(
            f"eps must be a number or a fraction such as 0.1 or 8/255, got {text!r}."
        ) from None


def create_attack(
    method: str,
    *,
    eps: float | None = None,
    norm: str | None = None,
    steps: int | None = None,
    targeted: bool = False,
    seed: int = 0,
) -> Attack:
    """Build attack ``method`` (see `ATTACKS`) from the options a user can give.

    ``norm`` defaults to the attack's first norm; ``steps`` to the attack's
    default.  Options the attack does not take are errors, not silently ignored.
    """
    info = ATTACKS[check_choice("attack", method, ATTACKS)]
    norm = norm or info.norms[0]
    if norm not in info.norms:
        raise ConfigError(
            f"{method} works in the {', '.join(info.norms)} norm, not {norm}; "
            f"drop --norm or choose another attack (pgd: linf or l2)."
        )
    if info.bounded and eps is None:
        raise ConfigError(f"{method} needs a radius: give --eps, e.g. --eps 8/255.")
    if not info.bounded and eps is not None:
        raise ConfigError(
            f"{method} finds a minimal perturbation and takes no --eps; leave it out, "
            "or use a bounded attack such as pgd."
        )
    if targeted and not info.targeted:
        targeted_ones = ", ".join(name for name, i in ATTACKS.items() if i.targeted)
        raise ConfigError(
            f"{method} has no targeted variant; targeted attacks are: {targeted_ones}."
        )
    if method == "fgsm" and steps is not None:
        raise ConfigError("fgsm is a single step and takes no --steps; use bim or pgd.")
    options: dict[str, Any] = {"eps": eps, "norm": norm, "steps": steps, "seed": seed}
    return info.build(targeted=targeted, **options)
