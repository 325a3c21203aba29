"""The final evaluation of an embedding run, enrolment and recognition.

`evaluate_embedding` embeds a split (by default the test split: the
held-out identities the network never saw), measures verification (ROC, AUC,
equal error rate over every pair of up to 2000 images) and N-way 1-shot and
5-shot identification over 1000 seeded episodes, writes them to metrics.json
(``eer``, ``nway_1shot`` ...), enrolls a few images of each identity in the
run's gallery and adds the "Embeddings" report section: a t-SNE map, the ROC
with its EER point and queries beside their nearest gallery images.

`enroll` adds the identities of an image folder to the gallery and
`recognize` ranks the enrolled identities nearest to image files; both
leave the network as it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from cnnlab import runs
from cnnlab.data import load_image
from cnnlab.data.datasets import TensorImageDataset
from cnnlab.data.imagefolder import scan
from cnnlab.data.splits import spread_subset
from cnnlab.errors import DataError
from cnnlab.metrics.verification import nway_kshot_accuracy, verification_report
from cnnlab.report import build_report
from cnnlab.report.embedding_figures import plot_retrieval, plot_roc, plot_tsne
from cnnlab.report.figures import figure_to_png
from cnnlab.runs.gallery import Gallery, gallery_path, load_gallery, save_gallery
from cnnlab.tasks.embedding_run import EmbeddingRun, embed, load_embedding_run

SECTION = "Embeddings"
MAX_WAYS = 5
EPISODES = 1000
QUERIES = 15
PAIR_IMAGES = 2000  # verification over every pair of at most this many images
TSNE_IMAGES = 1000
GALLERY_SHOTS = 5  # images of each evaluated identity enrolled in a new gallery
SHOWN_QUERIES = 6


def identification_report(
    embeddings: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> dict[str, Any]:
    """Verification (``eer``, ``auc`` ...) and N-way ``nway_1shot``/``nway_5shot`` accuracy.

    ``nway_5shot`` is None when some identity has fewer than six images.
    """
    shown = spread_subset(len(labels), PAIR_IMAGES)
    verification = verification_report(embeddings[shown], labels[shown])
    ways = min(MAX_WAYS, len(labels.unique()))
    if ways < 2:
        raise DataError("Identification needs images of at least two identities.")
    counts = torch.bincount(labels)
    five_shot = bool((counts[counts > 0] >= 6).all())
    return {
        **{k: v for k, v in verification.items() if k not in ("fpr", "tpr")},
        "ways": ways,
        "episodes": EPISODES,
        "nway_1shot": nway_kshot_accuracy(embeddings, labels, ways, 1, EPISODES, QUERIES, seed),
        "nway_5shot": (
            nway_kshot_accuracy(embeddings, labels, ways, 5, EPISODES, QUERIES, seed)
            if five_shot
            else None
        ),
        "roc": (verification["fpr"], verification["tpr"]),
    }


def evaluate_embedding(
    run_dir: str | os.PathLike,
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    split: str = "test",
    device: str = "cpu",
) -> dict[str, Any]:
    """Evaluate an embedding run on ``split``: metrics.json, gallery, report section, report."""
    if split not in runs.SPLITS:
        raise DataError(f"Unknown split {split!r}; choose one of {', '.join(runs.SPLITS)}.")
    run = load_embedding_run(run_dir)
    data = run.load_data(dataset, data_dir)
    images = getattr(data, split)
    if len(images) == 0:
        raise DataError(f"The {split} split of {data.name} is empty; use another split.")
    embeddings, labels = embed(run.model.to(device), images, device)
    report = identification_report(embeddings, labels)
    fpr, tpr = report.pop("roc")
    present = labels.unique().tolist()
    report.update(
        dataset=data.name,
        split=split,
        num_images=len(labels),
        identities=[data.classes[i] for i in present],
    )
    own = data.name == run.config.dataset
    runs.update_metrics(run.path, (split if own else f"{data.name}/{split}",), report)
    gallery, enrolled = _gallery_for(run, embeddings, labels, data.classes)
    _record_section(run, report, (fpr, tpr), images, embeddings, labels, data.classes, enrolled)
    if gallery is not None:
        save_gallery(run.path, gallery)
    build_report(run.path)
    return report


def _gallery_for(run: EmbeddingRun, embeddings, labels, classes):
    """A new gallery of ``GALLERY_SHOTS`` images per identity when the run has none for its
    weights (else None), and the indices of the images it enrolls (for the figure)."""
    first = [(labels == c).nonzero().flatten()[:GALLERY_SHOTS] for c in labels.unique()]
    enrolled = torch.cat(first)
    sha = run.meta["weights_sha256"]
    path = gallery_path(run.path)
    if path.is_file() and load_gallery(run.path).weights_sha256 == sha:
        return None, enrolled
    gallery = Gallery(torch.empty(0, embeddings.shape[1]), [], sha)
    names = [classes[i] for i in labels[enrolled].tolist()]
    return gallery.add(embeddings[enrolled], names), enrolled


def _record_section(run, report, roc, images, embeddings, labels, classes, enrolled) -> None:
    shots = "-" if report["nway_5shot"] is None else f"{report['nway_5shot']:.4f}"
    rows = [
        ["equal error rate", f"{report['eer']:.4f}"],
        ["ROC AUC", f"{report['auc']:.4f}"],
        [f"{report['ways']}-way 1-shot accuracy", f"{report['nway_1shot']:.4f}"],
        [f"{report['ways']}-way 5-shot accuracy", shots],
    ]
    caption = (
        f"{report['split']} split of {report['dataset']}: {report['num_images']} images of "
        f"{len(report['identities'])} identities; {report['pairs']} pairs, "
        f"{report['episodes']} episodes"
    )
    runs.add_table(run.path, SECTION, "verification", ["metric", "value"], rows, caption)
    shown = spread_subset(len(labels), TSNE_IMAGES)
    figures = [
        ("tsne.png", plot_tsne(embeddings[shown], labels[shown], classes), "t-SNE, by identity"),
        (
            "roc.png",
            plot_roc(*roc, report["eer"], report["auc"]),
            "verification ROC with the equal-error point",
        ),
        (
            "retrieval.png",
            _retrieval_figure(images, embeddings, labels, classes, enrolled),
            "queries (not enrolled) and their nearest enrolled images: identity (distance)",
        ),
    ]
    for name, figure, what in figures:
        runs.add_figure(run.path, SECTION, name, figure_to_png(figure), what)


def _retrieval_figure(images, embeddings, labels, classes, enrolled):
    is_query = torch.ones(len(labels), dtype=torch.bool)
    is_query[enrolled] = False
    queries = torch.cat(
        [(is_query & (labels == c)).nonzero().flatten()[:1] for c in labels.unique()]
    )[:SHOWN_QUERIES]
    if len(queries) == 0:
        queries = enrolled[:SHOWN_QUERIES]
    dist = torch.cdist(embeddings[queries], embeddings[enrolled])
    k = min(5, len(enrolled))
    nearest = dist.topk(k, dim=1, largest=False)
    found = enrolled[nearest.indices]
    pixels = _pixels(images, torch.cat([queries, found.flatten()]))
    return plot_retrieval(
        pixels[: len(queries)],
        [classes[i] for i in labels[queries].tolist()],
        pixels[len(queries) :].reshape(len(queries), k, *pixels.shape[1:]),
        [[classes[i] for i in row] for row in labels[found].tolist()],
        nearest.values,
    )


def _pixels(dataset, indices: torch.Tensor) -> torch.Tensor:
    """Images ``indices`` of ``dataset`` as floats in [0, 1]."""
    return torch.stack([dataset[i][0] for i in indices.tolist()]).float() / 255


def _load_images(run: EmbeddingRun, paths: list[Path]) -> TensorImageDataset:
    channels, height, width = run.input_shape
    pixels = [(load_image(p, channels, (height, width)) * 255).round() for p in paths]
    return TensorImageDataset(
        torch.stack(pixels).to(torch.uint8), torch.zeros(len(paths), dtype=torch.int64), ["?"]
    )


def enroll(run_dir: str | os.PathLike, folder: str | os.PathLike) -> dict[str, int]:
    """Add every identity of ``folder`` (``folder/<identity>/<images>``) to the run's gallery.

    Known identities get more images; the network is not changed.  Returns the
    number of images enrolled per identity.
    """
    run = load_embedding_run(run_dir)
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; give DIR/<identity>/<images>.")
    names, paths, labels = scan(root)
    embeddings, _ = embed(run.model, _load_images(run, paths))
    sha = run.meta["weights_sha256"]
    gallery = (
        load_gallery(run.path, sha)
        if gallery_path(run.path).is_file()
        else Gallery(torch.empty(0, embeddings.shape[1]), [], sha)
    )
    save_gallery(run.path, gallery.add(embeddings, [names[i] for i in labels.tolist()]))
    return {name: int((labels == i).sum()) for i, name in enumerate(names)}


def recognize(
    run_dir: str | os.PathLike, images: list[str | os.PathLike], k: int = 5
) -> list[list[tuple[str, float]]]:
    """For each image file, the ``k`` nearest enrolled identities and their distances."""
    run = load_embedding_run(run_dir)
    gallery = load_gallery(run.path, run.meta["weights_sha256"])
    embeddings, _ = embed(run.model, _load_images(run, [Path(p) for p in images]))
    return gallery.nearest(embeddings, k)
