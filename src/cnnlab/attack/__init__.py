"""Adversarial examples, robustness measurements, defences and data poisoning.

Every attack has one call shape, in pixel space [0, 1]:

    from cnnlab.attack import PGD
    adversarial = PGD(eps=8 / 255, steps=20)(model, images, labels)

- gradient attacks in an ε-ball (`gradient`): FGSM, BIM,
  PGD (L∞, L2), MI-FGSM, APGD-CE/DLR;
- minimal perturbations (`minimal`): DeepFool,
  Carlini-Wagner L2, Szegedy et al.'s L-BFGS, SparseFool;
- gradient-free (`blackbox`): Square; the AutoAttack-style
  ensemble (`ensemble`);
- universal perturbations and their transfer (`universal`);
- measurements (`evaluate`), adversarial training
  (`defense`), backdoors (`poison`;
  activation clustering in `clustering`) and
  out-of-distribution detection (`ood`).
"""

from cnnlab.attack.base import Attack
from cnnlab.attack.blackbox import Square
from cnnlab.attack.defense import (
    TRADES,
    AdversarialExamples,
    adversarial_batch,
    adversarial_training,
    trades_loss,
)
from cnnlab.attack.ensemble import AutoAttack
from cnnlab.attack.evaluate import (
    AttackResult,
    accuracy_curve,
    evaluate_attack,
    gradient_masking_check,
    rho_adv,
    robust_accuracy,
)
from cnnlab.attack.gradient import APGD, BIM, FGSM, MIFGSM, PGD
from cnnlab.attack.minimal import CarliniWagner, DeepFool, SparseFool, SzegedyLBFGS
from cnnlab.attack.registry import ATTACKS, create_attack, parse_eps
from cnnlab.attack.universal import transfer_matrix, universal_perturbation

__all__ = [
    "APGD",
    "ATTACKS",
    "BIM",
    "FGSM",
    "MIFGSM",
    "PGD",
    "TRADES",
    "AdversarialExamples",
    "Attack",
    "AttackResult",
    "AutoAttack",
    "CarliniWagner",
    "DeepFool",
    "SparseFool",
    "Square",
    "SzegedyLBFGS",
    "accuracy_curve",
    "adversarial_batch",
    "adversarial_training",
    "create_attack",
    "evaluate_attack",
    "gradient_masking_check",
    "parse_eps",
    "rho_adv",
    "robust_accuracy",
    "trades_loss",
    "transfer_matrix",
    "universal_perturbation",
]
