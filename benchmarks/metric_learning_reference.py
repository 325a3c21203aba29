"""An independent reference for issue 27's one-shot target, in plain PyTorch (no cnnlab import).

Same split as ``benchmarks/metric_learning.py``: train on Fashion-MNIST classes
0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat) from the official training
file, test on classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot) from the
official test file.  Training uses pytorch-metric-learning's losses and its
``MPerClassSampler`` (P identities x K images per batch, Hermans et al. 2017,
"In Defense of the Triplet Loss", Sec. 3); the network is a small ResNet
(three stages of basic blocks, He et al. 2016) with global average pooling, a
linear embedding and batch norm, L2-normalized.  Evaluation: 5-way 1-shot
episodes (1000, seeded, 15 queries per identity) classified by scikit-learn's
``NearestCentroid`` on the embeddings, and the verification EER over every
pair of 2000 test images from scikit-learn's ``roc_curve``.

Usage::

    python benchmarks/metric_learning_reference.py --data-dir ../shared/datasets/fashion-mnist \
        [--loss triplet|arcface] [--epochs 10] [--per-class 1200]

Prints one line per epoch and a final result line (also for the raw pixels
and for the pooled features under the embedding).
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners, samplers
from sklearn.metrics import roc_curve
from sklearn.neighbors import NearestCentroid
from torch import nn

SEEN, UNSEEN = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): magic, dimension sizes, then uint8 data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(root: Path, per_class: int | None, seed: int):
    x = read_idx(root / "train-images-idx3-ubyte.gz")
    y = read_idx(root / "train-labels-idx1-ubyte.gz").astype(np.int64)
    keep = np.isin(y, SEEN)
    x, y = x[keep], y[keep]
    if per_class is not None:
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in SEEN])
        x, y = x[idx], y[idx]
    tx = read_idx(root / "t10k-images-idx3-ubyte.gz")
    ty = read_idx(root / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    keep = np.isin(ty, UNSEEN)
    as_float = lambda a: torch.from_numpy(a.copy()).float().div(255).unsqueeze(1)  # noqa: E731
    return as_float(x), torch.from_numpy(y), as_float(tx[keep]), torch.from_numpy(ty[keep])


class Block(nn.Module):
    """A basic residual block (He et al. 2016, Fig. 2 left)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.short(x))


class Embedder(nn.Module):
    """Stem, three stages (32, 64, 128 channels), GAP, linear, BN, L2 normalization."""

    def __init__(self, dim: int, widths=(32, 64, 128)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        stages, cin = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(Block(cin, w, 1 if i == 0 else 2))
            cin = w
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, dim)
        self.bn = nn.BatchNorm1d(dim)

    def pooled(self, x):
        return self.stages(self.stem((x - 0.286) / 0.353)).mean((2, 3))

    def forward(self, x):
        return F.normalize(self.bn(self.fc(self.pooled(x))), dim=1)


def augment(x: torch.Tensor, gen: torch.Generator, pad: int) -> torch.Tensor:
    """Random crop with ``pad`` pixels of zero padding and a random horizontal flip."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, 1, h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, 1, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def episodes(emb: np.ndarray, labels: np.ndarray, shots: int, n: int = 1000, queries: int = 15):
    """Mean accuracy of ``n`` seeded 5-way ``shots``-shot episodes with NearestCentroid."""
    rng = np.random.default_rng(0)
    classes = np.unique(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    correct = total = 0
    for _ in range(n):
        ways = rng.choice(classes, 5, replace=False)
        support, query, sy, qy = [], [], [], []
        for c in ways:
            pick = rng.choice(by_class[c], shots + queries, replace=False)
            support.append(pick[:shots]), query.append(pick[shots:])
            sy += [c] * shots
            qy += [c] * queries
        clf = NearestCentroid().fit(emb[np.concatenate(support)], sy)
        correct += (clf.predict(emb[np.concatenate(query)]) == np.array(qy)).sum()
        total += len(qy)
    return correct / total


def eer(emb: np.ndarray, labels: np.ndarray, images: int = 2000) -> float:
    """Equal error rate of cosine-similarity verification over every pair of ``images``."""
    idx = np.linspace(0, len(labels) - 1, images).round().astype(int)
    e = emb[idx] / np.linalg.norm(emb[idx], axis=1, keepdims=True)
    sim = e @ e.T
    iu = np.triu_indices(images, 1)
    same = (labels[idx][:, None] == labels[idx][None, :])[iu]
    fpr, tpr, _ = roc_curve(same, sim[iu])
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    return float((fpr[i] + fnr[i]) / 2)


def report(name: str, emb: np.ndarray, labels: np.ndarray) -> str:
    return (
        f"{name}: 5-way 1-shot {episodes(emb, labels, 1):.3f}, "
        f"5-shot {episodes(emb, labels, 5):.3f}, EER {eer(emb, labels):.3f}"
    )


@torch.no_grad()
def embed(model: Embedder, x: torch.Tensor, pooled: bool = False) -> np.ndarray:
    model.eval()
    f = model.pooled if pooled else model
    out = torch.cat([f(chunk) for chunk in x.split(500)]).numpy()
    model.train()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--loss", default="triplet", choices=("triplet", "arcface"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--p", type=int, default=5)
    parser.add_argument("--k", type=int, default=25)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--pad", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    # NearestCentroid computes within-class deviations (for shrinkage, unused here), which
    # one shot per class makes 0/0: its warnings say nothing about the centroids
    warnings.filterwarnings("ignore", module="sklearn")
    torch.manual_seed(args.seed)
    x, y, tx, ty = load_split(args.data_dir, args.per_class, args.seed)
    test_labels = ty.numpy()
    print(
        report("raw pixels", tx.flatten(1).numpy() - tx.flatten(1).numpy().mean(0), test_labels),
        flush=True,
    )
    model = Embedder(args.dim)
    if args.loss == "triplet":
        criterion = losses.TripletMarginLoss(margin=0.2)
        miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    else:
        criterion = losses.ArcFaceLoss(len(SEEN), args.dim, margin=28.6, scale=30)
        miner = None
    params = list(model.parameters()) + list(criterion.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    batch = args.p * args.k
    steps = args.epochs * (len(y) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
    sampler = samplers.MPerClassSampler(
        y, m=args.k, batch_size=batch, length_before_new_iter=len(y)
    )
    gen = torch.Generator().manual_seed(args.seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for epoch in range(args.epochs):
        order = torch.tensor(list(iter(sampler)))
        total = 0.0
        for idx in order[: len(order) // batch * batch].split(batch):
            xb = augment(x[idx], gen, args.pad) if args.pad else x[idx]
            emb = model(xb)
            yb = y[idx]
            loss = criterion(emb, yb, miner(emb, yb)) if miner else criterion(emb, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        emb = embed(model, tx)
        print(
            f"epoch {epoch + 1}: loss {total / (len(order) // batch):.4f}, "
            f"test 1-shot {episodes(emb, test_labels, 1, n=300):.3f}, "
            f"cpu {time.process_time() - cpu0:.0f} s",
            flush=True,
        )
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(report(f"{args.loss} embedding", embed(model, tx), test_labels))
    print(report(f"{args.loss} pooled features", embed(model, tx, pooled=True), test_labels))
    print(
        f"train CPU {cpu:.0f} s, wall {wall:.0f} s, load {os.getloadavg()[0]:.1f}, "
        f"{len(y)} training images, args {vars(args)}"
    )


if __name__ == "__main__":
    main()
