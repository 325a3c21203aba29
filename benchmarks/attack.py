"""Adversarial robustness experiments on Fashion-MNIST, each section in one run.

* ``training``: standard training vs FGSM with random start (Wong et al. 2020)
  vs PGD adversarial training (Madry et al. 2018) of the same small CNN at
  ε = 0.1 (L∞): clean accuracy, FGSM, PGD-20 and AutoAttack-style robust accuracy.
* ``curves``: accuracy against ε under FGSM and PGD-20 for the three models
  (figure ``benchmarks/figures/attack_curves.png``).
* ``universal``: a universal perturbation (Moosavi-Dezfooli et al. 2017, Alg. 1)
  fitted on training images, its fooling rate on held-out test images, and the
  transfer matrix across three architectures (their Table 2).
* ``deepfool``: DeepFool's ρ_adv = mean ‖r‖₂/‖x‖₂ (Moosavi-Dezfooli et al. 2016,
  Table 1) of LeNet-5 and of the three CNNs; ``--cifar-run RUN`` adds a CIFAR-10 run.
* ``poisoning``: BadNets (Gu et al. 2017) with 1 % of the training set poisoned:
  clean accuracy, attack success rate, what spectral signatures (Tran et al.
  2018) flag, retraining without the flagged images, and fine-pruning (Liu et
  al. 2018); the recall and precision of spectral signatures and of activation
  clustering (Chen et al. 2019) as detectors of the planted poison.
* ``detection``: only that detection table, on the same poisoned run.
* ``ood``: out-of-distribution detection of scikit-learn's digits (resized to
  28x28) by a Fashion-MNIST model, maximum softmax probability vs energy score.
* ``autoattack``: cnnlab's strongest attacks (PGD-50 with restarts, APGD-CE, its
  AutoAttack-style ensemble) against the reference AutoAttack of torchattacks
  (Croce & Hein 2020, "standard") on the same model, ε and test images.

Trained runs are kept under ``--work`` and reused (or resumed) by later
sections and later invocations.  Each section prints a Markdown section for
``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/attack.py --data-dir ../shared/datasets/fashion-mnist [SECTION ...]
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnlab import TrainConfig, Trainer, load_run
from cnnlab.attack import APGD, FGSM, PGD, AutoAttack, DeepFool, evaluate_attack, rho_adv
from cnnlab.attack.clustering import activation_clustering
from cnnlab.attack.evaluate import accuracy_curve, predict
from cnnlab.attack.ood import ood_detection
from cnnlab.attack.poison import (
    Trigger,
    attack_success_rate,
    fine_prune,
    flag_outliers,
    poison_dataset,
    spectral_signature_scores,
)
from cnnlab.attack.universal import fooling_rate, transfer_matrix, universal_perturbation
from cnnlab.data import DataSplits, load_data
from cnnlab.data.splits import spread_subset
from cnnlab.fileio import atomic_path
from cnnlab.report.attack_figures import plot_accuracy_curves
from recipes import PREVIOUS_DEFAULTS

SECTIONS = (
    "training",
    "curves",
    "universal",
    "deepfool",
    "poisoning",
    "detection",
    "ood",
    "autoattack",
)
EPS = 0.1
CNN = {"channels": [32, 64, 128]}
DEFENCES = {"standard": "none", "FGSM-RS": "fgsm-rs", "PGD-AT": "pgd"}
FIGURES = Path(__file__).parent / "figures"


def images_of(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of an in-memory split in [0, 1], and their labels."""
    return dataset.images.float() / 255, dataset.labels


def train(work: Path, name: str, config: TrainConfig, data: DataSplits | None = None) -> Path:
    """Train ``config`` into ``work/name``, continuing an interrupted run; reuse a finished one."""
    run = work / name
    if (run / "last.safetensors").is_file():
        trainer = Trainer.resume(run, quiet=True, data=data)
    else:
        trainer = Trainer(config, run, quiet=True, data=data)
    started = time.perf_counter()
    trainer.fit()
    if trainer.history and time.perf_counter() - started > 1:
        print(f"trained {name}: {sum(r['time'] for r in trainer.history):.0f} s", flush=True)
    return run


def training_seconds(run_dir: Path) -> float:
    rows = (run_dir / "history.jsonl").read_text().splitlines()
    return sum(json.loads(row)["time"] for row in rows)


def base_config(args: argparse.Namespace, **overrides) -> TrainConfig:
    options = dict(
        PREVIOUS_DEFAULTS,
        model="simple_cnn",
        model_kwargs=CNN,
        dataset="fashion-mnist",
        data_dir=args.data_dir,
        epochs=args.epochs,
        batch_size=128,
        optimizer="adam",
        lr=2e-3,
        augment=[],
        label_smoothing=0.0,
        per_class=args.per_class,
        seed=args.seed,
    )
    options.update(overrides)
    return TrainConfig(**options)


def defended_run(args: argparse.Namespace, name: str) -> Path:
    """The simple CNN trained with defence ``name`` (a key of DEFENCES)."""
    method = DEFENCES[name]
    return train(
        args.work,
        f"cnn-{method}",
        base_config(args, adv_train=method, adv_eps=EPS, adv_steps=args.adv_steps),
    )


def defended_runs(args: argparse.Namespace) -> dict[str, Path]:
    return {name: defended_run(args, name) for name in DEFENCES}


def training_section(args, test) -> None:
    runs = defended_runs(args)
    images, labels = test
    few_images, few_labels = images[: args.autoattack_images], labels[: args.autoattack_images]
    print(f"\n## Adversarial training on Fashion-MNIST, ε = {EPS} (L∞)\n")
    print(
        f"Model: `simple_cnn` (channels {CNN['channels']}, BN, global average pooling), "
        f"{args.epochs} epochs, Adam 2e-3, batch 128, cosine schedule, no augmentation, "
        f"seed {args.seed}. PGD-AT trains on PGD-{args.adv_steps} (α = 2.5ε/steps, random "
        "start); FGSM-RS on one step of α = 1.25ε from a uniform start. FGSM and PGD-20 "
        f"(random start) on all {len(labels):,} test images; AutoAttack-style = worst case "
        f"of APGD-CE, APGD-DLR (100 steps each) and Square (5,000 queries) on the first "
        f"{len(few_labels):,}.\n"
    )
    print(
        "| training | clean | FGSM | PGD-20 | clean (first "
        f"{len(few_labels)}) | AutoAttack (first {len(few_labels)}) | training time (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, run_dir in runs.items():
        run = load_run(run_dir)
        model = run.model.eval()
        clean = (predict(model, images) == labels).float().mean().item()
        fgsm = evaluate_attack(model, FGSM(EPS), images, labels).metrics["robust_accuracy"]
        pgd = evaluate_attack(model, PGD(EPS, steps=20), images, labels).metrics
        auto = evaluate_attack(model, AutoAttack(EPS), few_images, few_labels).metrics
        seconds = training_seconds(run_dir)
        print(
            f"| {name} | {clean:.4f} | {fgsm:.4f} | {pgd['robust_accuracy']:.4f} "
            f"| {auto['clean_accuracy']:.4f} | {auto['robust_accuracy']:.4f} | {seconds:.0f} |",
            flush=True,
        )


def curves_section(args, test) -> None:
    runs = defended_runs(args)
    images, labels = test[0][: args.curve_images], test[1][: args.curve_images]
    eps_values = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3]
    curves, rows = {}, []
    for name, run_dir in runs.items():
        model = load_run(run_dir).model.eval()
        for attack, make in (("FGSM", FGSM), ("PGD-20", lambda e: PGD(e, steps=20))):
            accuracies = accuracy_curve(model, make, eps_values, images, labels)
            curves[f"{name}, {attack}"] = (eps_values, accuracies)
            rows.append((name, attack, accuracies))
    FIGURES.mkdir(exist_ok=True)
    figure = FIGURES / "attack_curves.png"
    with atomic_path(figure) as tmp:
        plot_accuracy_curves(curves).savefig(tmp, format="png")
    print(f"\n## Accuracy against ε (Fashion-MNIST, first {len(labels):,} test images)\n")
    print(f"Figure: `{figure.relative_to(Path(__file__).parent.parent)}`.\n")
    print("| model | attack | " + " | ".join(f"ε={e:g}" for e in eps_values) + " |")
    print("|---|---|" + "---|" * len(eps_values))
    for name, attack, accuracies in rows:
        print(f"| {name} | {attack} | " + " | ".join(f"{a:.3f}" for a in accuracies) + " |")


def architecture_runs(args) -> dict[str, Path]:
    """Three standard-trained architectures, for the transfer matrix and ρ_adv."""
    return {
        "simple_cnn": defended_runs(args)["standard"],
        "lenet5": train(
            args.work, "lenet5", base_config(args, model="lenet5", model_kwargs={"input_size": 28})
        ),
        "lenet5_modern": train(
            args.work, "lenet5_modern", base_config(args, model="lenet5_modern", model_kwargs={})
        ),
    }


def universal_section(args, data: DataSplits, test) -> None:
    models = {name: load_run(run).model.eval() for name, run in architecture_runs(args).items()}
    robust = load_run(defended_runs(args)["PGD-AT"]).model.eval()
    fit_images = images_of(data.train)[0][: args.universal_images]
    held_out = test[0]
    perturbations, rows = {}, []
    for name, model in models.items():
        started = time.perf_counter()
        result = universal_perturbation(model, fit_images, xi=EPS, norm="linf", delta=0.2)
        seconds = time.perf_counter() - started
        perturbations[name] = result.perturbation
        rows.append((name, result, fooling_rate(model, held_out, result.perturbation), seconds))
    print(f"\n## Universal perturbations (Fashion-MNIST, ℓ∞ ξ = {EPS})\n")
    print(
        f"Algorithm 1 of Moosavi-Dezfooli et al. (2017) with δ = 0.2 (stop at an 80 % "
        f"fooling rate) and at most 10 passes, fitted on {len(fit_images):,} training images; "
        f"fooling rate = share of the {len(held_out):,} held-out test images whose predicted "
        "class changes when the one perturbation is added.\n"
    )
    print("| model | passes | fooling rate (fitting images) | fooling rate (held-out) | time (s) |")
    print("|---|---|---|---|---|")
    for name, result, held, seconds in rows:
        print(
            f"| {name} | {result.passes} | {result.fooling_rate:.4f} | {held:.4f} | {seconds:.0f} |"
        )
    robust_rate = fooling_rate(robust, held_out, perturbations["simple_cnn"])
    print(
        f"\nThe simple CNN's perturbation fools the PGD-AT model on {robust_rate:.4f} of the "
        "held-out images.\n"
    )
    matrix = transfer_matrix(models, perturbations, held_out)
    print("Transfer (rows: perturbation fitted on; columns: model attacked; held-out images):\n")
    print("| fitted on | " + " | ".join(models) + " |")
    print("|---|" + "---|" * len(models))
    for source, rates in matrix.items():
        print(f"| {source} | " + " | ".join(f"{rates[t]:.3f}" for t in models) + " |")


def deepfool_section(args, test) -> None:
    images, labels = test[0][: args.deepfool_images], test[1][: args.deepfool_images]
    defended = defended_runs(args)
    runs = architecture_runs(args)
    runs.update({f"simple_cnn, {name}": defended[name] for name in ("FGSM-RS", "PGD-AT")})
    if args.cifar_run:
        runs["CIFAR-10: " + Path(args.cifar_run).name] = Path(args.cifar_run)
    print("\n## DeepFool's ρ_adv\n")
    print(
        "ρ_adv = mean over the fooled images of ‖r‖₂/‖x‖₂ (Moosavi-Dezfooli et al. 2016, "
        f"eq. 15), DeepFool with overshoot 0.02 and 50 steps, first {len(labels):,} test "
        "images (pixels in [0, 1]); a CIFAR-10 run is attacked on 1,000 images of its "
        "evaluation split drawn over all classes (the split is ordered by class). Paper, "
        "Table 1: LeNet on MNIST 0.20, NIN on CIFAR-10 0.023, LeNet on CIFAR-10 0.030.\n"
    )
    print("| model | data | clean accuracy | fooled | ρ_adv | time (s) |")
    print("|---|---|---|---|---|---|")
    for name, run_dir in runs.items():
        run = load_run(run_dir)
        model = run.model.eval()
        x, y = (images, labels) if run.config.dataset == "fashion-mnist" else cifar_images(run)
        result = evaluate_attack(model, DeepFool(), x, y)
        fooled = (result.clean_predictions == y) & (result.adversarial_predictions != y)
        rho = rho_adv(x, result.adversarial, fooled)
        print(
            f"| {name} | {run.config.dataset} | {result.metrics['clean_accuracy']:.4f} "
            f"| {fooled.float().mean().item():.4f} | {rho:.4f} "
            f"| {result.metrics['seconds']:.0f} |",
            flush=True,
        )


def cifar_images(run, limit: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """``limit`` evaluation images of a CIFAR run, drawn over its test split (or validation,
    if it kept none)."""
    data = load_data(run.config.dataset, run.config.data_dir, **run.config.data_options())
    split = data.test if len(data.test) else data.val
    return images_of(split.subset(spread_subset(len(split), limit)))


TRIGGER, TARGET = Trigger("patch", size=3), 0


def poisoned_run(args, data: DataSplits) -> tuple[Path, DataSplits, torch.Tensor]:
    """The standard CNN trained on the BadNets-poisoned training set: its run directory,
    the poisoned splits and the indices of the poisoned training images."""
    train_set, chosen = poison_dataset(
        data.train, TRIGGER, TARGET, args.poison_fraction, seed=args.seed
    )
    poisoned = DataSplits(data.name, train_set, data.val, data.test, data.classes)
    return train(args.work, "cnn-badnets", base_config(args), data=poisoned), poisoned, chosen


def spectral_flags(model, images, labels, chosen) -> tuple[torch.Tensor, float]:
    """Tran et al.'s flags, with ε the poisoned share of the target label; and that ε."""
    scores = spectral_signature_scores(model, images, labels)
    bound = len(chosen) / (labels == TARGET).sum().item()
    return flag_outliers(scores, labels, bound), bound


def detection_section(args, data: DataSplits, test) -> None:
    """The poisoned run of ``poisoning`` (trained or reused) and the detection table only."""
    run, poisoned, chosen = poisoned_run(args, data)
    model = load_run(run).model.eval()
    images, labels = test
    clean = (predict(model, images) == labels).float().mean().item()
    success = attack_success_rate(model, images, labels, TRIGGER, TARGET)
    train_images, train_labels = images_of(poisoned.train)
    is_poisoned = torch.zeros(len(train_labels), dtype=torch.bool)
    is_poisoned[chosen] = True
    flagged, _ = spectral_flags(model, train_images, train_labels, chosen)
    print(f"\n## Backdoor detection ({args.poison_fraction:.0%} BadNets poisoning)\n")
    print(
        f"The poisoned run `{run.name}`: clean test accuracy {clean:.4f}, attack success rate "
        f"{success:.4f}; {len(chosen):,} poisoned training images."
    )
    print_detections(
        [
            ("spectral signatures (⌈1.5·ε·n⌉ highest scores of each label)", flagged),
            *clustering_detections(model, train_images, train_labels, seed=args.seed),
        ],
        is_poisoned,
        train_labels,
    )


def poisoning_section(args, data: DataSplits, test) -> None:
    target, fraction, trigger = TARGET, args.poison_fraction, TRIGGER
    clean_run = defended_run(args, "standard")
    run, poisoned, chosen = poisoned_run(args, data)
    poisoned_train = poisoned.train
    model = load_run(run).model.eval()
    images, labels = test

    def measure(network) -> tuple[float, float]:
        clean = (predict(network, images) == labels).float().mean().item()
        return clean, attack_success_rate(network, images, labels, trigger, target)

    baseline_clean, baseline_asr = measure(load_run(clean_run).model.eval())
    poisoned_clean, poisoned_asr = measure(model)
    train_images, train_labels = images_of(poisoned_train)
    # Tran et al.'s ε bounds the poisoned share of a label: here that of the target label.
    flagged, bound = spectral_flags(model, train_images, train_labels, chosen)
    is_poisoned = torch.zeros(len(train_labels), dtype=torch.bool)
    is_poisoned[chosen] = True
    caught = (flagged & is_poisoned).sum().item()
    kept = (~flagged).nonzero().flatten()
    cleaned = DataSplits(data.name, poisoned_train.subset(kept), data.val, data.test, data.classes)
    retrained = train(args.work, "cnn-badnets-cleaned", base_config(args), data=cleaned)
    retrained_clean, retrained_asr = measure(load_run(retrained).model.eval())
    val_images, val_labels = images_of(data.val)
    pruned = fine_prune(model, val_images, val_labels, fraction=0.5, epochs=2, seed=args.seed)
    pruned_clean, pruned_asr = measure(pruned)
    print(f"\n## BadNets backdoor, {fraction:.0%} of the training set poisoned\n")
    print(
        f"Trigger: a 3x3 checkerboard in the bottom-right corner; target class "
        f"{data.classes[target]!r}; {len(chosen):,} of {len(poisoned_train):,} training "
        "images (drawn from the other classes) stamped and relabelled. Same CNN and recipe "
        "as the standard model. Attack success rate = share of the test images of the other "
        "classes that the trigger turns into the target.\n"
    )
    print("| model | clean test accuracy | attack success rate |")
    print("|---|---|---|")
    for name, clean, asr in (
        ("clean training set", baseline_clean, baseline_asr),
        ("poisoned training set", poisoned_clean, poisoned_asr),
        ("retrained without the flagged images", retrained_clean, retrained_asr),
        (
            "fine-pruned (50 % of the last conv's channels, 2 epochs on the val split)",
            pruned_clean,
            pruned_asr,
        ),
    ):
        print(f"| {name} | {clean:.4f} | {asr:.4f} |")
    in_target = flagged & (train_labels == target)
    print(
        f"\nSpectral signatures (penultimate features, top singular direction per label; "
        f"ε = {bound:.3f}, the poisoned share of the target label, and the ⌈1.5·ε·n⌉ highest "
        f"scores of each label flagged): {flagged.sum().item():,} images flagged, "
        f"{in_target.sum().item():,} of them in the target label; {caught} of the "
        f"{len(chosen)} poisoned images among them (recall {caught / len(chosen):.3f}; "
        f"precision {caught / flagged.sum().item():.3f} overall, "
        f"{caught / in_target.sum().item():.3f} in the target label)."
    )
    print_detections(
        [
            ("spectral signatures (⌈1.5·ε·n⌉ highest scores of each label)", flagged),
            *clustering_detections(model, train_images, train_labels, seed=args.seed),
        ],
        is_poisoned,
        train_labels,
    )


def clustering_detections(model, images, labels, seed: int) -> list[tuple[str, torch.Tensor]]:
    """What activation clustering (Chen et al. 2019) flags, by reduction and by rule.

    Size rule: the smaller cluster of every label whose smaller cluster is at most
    35 % of it (the paper's default).  Silhouette rule: the smaller cluster of the
    one label whose split has the highest silhouette score (no threshold to tune).
    """
    detections = []
    for reduce in ("pca", "ica"):
        clusters = activation_clustering(model, images, labels, seed=seed, reduce=reduce)
        name = f"activation clustering, {reduce.upper()}-10 + 2-means"
        best = int(torch.nan_to_num(clusters.silhouette, nan=-2.0).argmax())
        detections.append((f"{name}, size rule (≤ 35 %)", clusters.flagged()))
        detections.append(
            (
                f"{name}, silhouette rule (label {best}, silhouette "
                f"{clusters.silhouette[best]:.3f}, size {clusters.relative_size[best]:.3f})",
                clusters.smaller & (labels == best),
            )
        )
    return detections


def print_detections(
    detections: list[tuple[str, torch.Tensor]], is_poisoned: torch.Tensor, labels: torch.Tensor
) -> None:
    """The detection table: flagged images, recall and precision against the planted poison."""
    print(
        "\nDetection on the poisoned training set (the same poisoned run; recall = share of "
        "the poisoned images flagged, precision = share of the flagged images that are "
        "poisoned):\n"
    )
    print(
        "| detector | labels flagged | images flagged | poisoned among them | recall | precision |"
    )
    print("|---|---|---|---|---|---|")
    for name, flagged in detections:
        caught = (flagged & is_poisoned).sum().item()
        count = flagged.sum().item()
        precision = f"{caught / count:.3f}" if count else "–"
        print(
            f"| {name} | {labels[flagged].unique().tolist()} | {count:,} | {caught} "
            f"| {caught / is_poisoned.sum().item():.3f} | {precision} |"
        )


def robust_mask(model, attack, images, labels) -> tuple[torch.Tensor, float, float]:
    """Which images ``attack(images, labels)`` leaves correctly classified; wall and CPU s."""
    wall, cpu = time.perf_counter(), time.process_time()
    adversarial = attack(images, labels)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return predict(model, adversarial) == labels, wall, cpu


def reference_run(args, data: DataSplits, name: str) -> Path:
    """A model of the autoattack section: a DEFENCES name, or ``BadNets`` (the standard
    CNN trained on the 1 %-poisoned training set of ``poisoning``)."""
    return poisoned_run(args, data)[0] if name == "BadNets" else defended_run(args, name)


def reference_autoattack(model, eps: float, seed: int):
    """torchattacks' "standard" AutoAttack with the reference package's iteration counts
    (Croce & Hein 2020: 100 for APGD-CE, APGD-T and FAB-T); torchattacks.AutoAttack
    leaves its components at their own default of 10 steps."""
    import torchattacks

    return torchattacks.MultiAttack(
        [
            torchattacks.APGD(model, eps=eps, steps=100, loss="ce", seed=seed),
            torchattacks.APGDT(model, eps=eps, steps=100, n_classes=10, seed=seed),
            torchattacks.FAB(
                model, eps=eps, steps=100, multi_targeted=True, n_classes=10, seed=seed
            ),
            torchattacks.Square(model, eps=eps, n_queries=5000, seed=seed),
        ]
    )


def autoattack_section(args, data: DataSplits, test) -> None:
    """cnnlab's strongest attacks against torchattacks' AutoAttack ("standard": APGD-CE,
    APGD-T, FAB-T, Square) on the same model, ε and images."""
    import torchattacks

    images, labels = test[0][: args.reference_images], test[1][: args.reference_images]
    eps = args.reference_eps
    print(f"\n## cnnlab's attacks against the reference AutoAttack (ε = {eps:g}, L∞)\n")
    print(
        f"The first {len(labels):,} Fashion-MNIST test images; robust accuracy = share still "
        "classified correctly. cnnlab: PGD-50 (α = 2.5ε/50) with 5 random restarts, APGD-CE "
        "(100 steps) and cnnlab's AutoAttack-style ensemble (APGD-CE, APGD-DLR, Square 5,000 "
        "queries: the untargeted half). Reference: `torchattacks.AutoAttack(version="
        f"'standard', seed={args.seed})` (APGD-CE, APGD-T over 9 target classes, FAB-T, "
        "Square 5,000 queries; Croce & Hein 2020), which leaves APGD, APGD-T and FAB at "
        "torchattacks' default of 10 steps, and the same ensemble with the reference "
        "package's 100 (`reference_autoattack`). One thread; wall and CPU seconds.\n"
    )
    print("| model | attack | robust accuracy | wall (s) | CPU (s) |")
    print("|---|---|---|---|---|")
    for name in args.reference_models:
        model = load_run(reference_run(args, data, name)).model.eval()
        attacks = {
            "cnnlab PGD-50, 5 restarts": partial(
                PGD(eps, steps=50, restarts=5, seed=args.seed), model
            ),
            "cnnlab APGD-CE": partial(APGD(eps, steps=100, seed=args.seed), model),
            "cnnlab AutoAttack-style": partial(AutoAttack(eps, seed=args.seed), model),
            "torchattacks AutoAttack (standard)": torchattacks.AutoAttack(
                model, norm="Linf", eps=eps, version="standard", n_classes=10, seed=args.seed
            ),
            "torchattacks AutoAttack, 100 steps": reference_autoattack(model, eps, args.seed),
        }
        clean = predict(model, images) == labels
        print(f"| {name} | clean | {clean.float().mean().item():.4f} | – | – |")
        robust = {}
        for attack_name, attack in attacks.items():
            robust[attack_name], wall, cpu = robust_mask(model, attack, images, labels)
            accuracy = robust[attack_name].float().mean().item()
            print(
                f"| {name} | {attack_name} | {accuracy:.4f} | {wall:.0f} | {cpu:.0f} |", flush=True
            )
        hundred = robust.pop("torchattacks AutoAttack, 100 steps")
        reference = robust.pop("torchattacks AutoAttack (standard)") & hundred
        ours = torch.stack(list(robust.values())).all(0)
        for attack_name, mask in (
            ("worst case over cnnlab's three", ours),
            ("worst case over all five", ours & reference),
        ):
            print(f"| {name} | {attack_name} | {mask.float().mean().item():.4f} | – | – |")
        print(
            f"\n{name}: the two references break {(ours & ~reference).sum().item()} image(s) that "
            f"all of cnnlab's attacks leave correct; cnnlab's attacks break "
            f"{(reference & ~ours).sum().item()} that the reference leaves correct.\n",
            flush=True,
        )


def ood_section(args, test) -> None:
    digits = images_of(load_data("digits").test)[0]
    outside = F.interpolate(digits, size=test[0].shape[-2:], mode="bilinear", antialias=True)
    inside = test[0]
    print("\n## Out-of-distribution detection: Fashion-MNIST (in) vs digits (out)\n")
    print(
        f"In: the {len(inside):,} Fashion-MNIST test images; out: the {len(outside)} "
        "scikit-learn digits test images, resized to 28x28. Score: maximum softmax "
        "probability (Hendrycks & Gimpel 2017) or energy, T·logsumexp(z/T) with T = 1 "
        "(Liu et al. 2020); AUROC of in vs out, FPR at 95 % TPR.\n"
    )
    print("| model | score | AUROC | FPR at 95 % TPR |")
    print("|---|---|---|---|")
    for name, run_dir in defended_runs(args).items():
        model = load_run(run_dir).model.eval()
        for method in ("msp", "energy"):
            result = ood_detection(model, inside, outside, method)
            print(f"| {name} | {method} | {result['auroc']:.4f} | {result['fpr_at_95_tpr']:.4f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--data-dir", required=True, help="folder with the Fashion-MNIST files")
    parser.add_argument("--work", type=Path, default=Path("benchmarks/out/attack"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--adv-steps", type=int, default=10)
    parser.add_argument("--autoattack-images", type=int, default=1000)
    parser.add_argument(
        "--reference-images", type=int, default=500, help="images of the autoattack section"
    )
    parser.add_argument(
        "--reference-models",
        nargs="+",
        default=["FGSM-RS"],
        choices=[*DEFENCES, "BadNets"],
        help="models of the autoattack section",
    )
    parser.add_argument(
        "--reference-eps", type=float, default=EPS, help="L∞ radius of the autoattack section"
    )
    parser.add_argument("--curve-images", type=int, default=1000)
    parser.add_argument("--universal-images", type=int, default=2000)
    parser.add_argument("--deepfool-images", type=int, default=1000)
    parser.add_argument("--poison-fraction", type=float, default=0.01)
    parser.add_argument("--cifar-run", help="a CIFAR-10 run directory for the ρ_adv table")
    parser.add_argument("--per-class", type=int, help="train on a subset (smoke tests)")
    parser.add_argument("--test-images", type=int, help="evaluate on the first N test images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    data = load_data("fashion-mnist", args.data_dir, seed=args.seed, per_class=args.per_class)
    test = tuple(t[: args.test_images] for t in images_of(data.test))
    for section in args.sections or SECTIONS:
        started = time.perf_counter()
        if section == "training":
            training_section(args, test)
        elif section == "curves":
            curves_section(args, test)
        elif section == "universal":
            universal_section(args, data, test)
        elif section == "deepfool":
            deepfool_section(args, test)
        elif section == "poisoning":
            poisoning_section(args, data, test)
        elif section == "detection":
            detection_section(args, data, test)
        elif section == "autoattack":
            autoattack_section(args, data, test)
        else:
            ood_section(args, test)
        print(f"\n({section}: {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
