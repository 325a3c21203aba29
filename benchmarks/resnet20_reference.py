"""ResNet-20 on the JPEG CIFAR-10 training set, without cnnlab: an outside check of RESULTS' rows.

cnnlab's ResNet-20 recipe (RESULTS.md, run M: SGD 0.05 with Nesterov momentum 0.9, batch 32,
weight decay 5e-4, one warm-up epoch then cosine decay to zero, mirrored 4-pixel crop and
flip, no label smoothing, 40 epochs, 45k/5k split) reaches 88.4 % validation accuracy on
average over four seeds. Is that the data and the budget, or cnnlab? This script trains the
same recipe with nothing of cnnlab's: a ResNet-20 written here from He et al. (2016),
"Deep residual learning for image recognition", Sec. 4.2 (3x3 convolutions, 16/32/64 filters,
n = 3 basic blocks per stage, option A shortcuts: identity, with the subsampled input
zero-padded to the wider stage), torchvision's PIL transforms and ``DataLoader``, a plain
training loop, and scikit-learn's stratified split (10 % of each class held out).

    python benchmarks/resnet20_reference.py --data-dir ../shared/datasets/cifar10-jpg/train.tar.gz

Writes one JSON line per epoch to ``--out`` (atomically rewritten) and prints the same.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import tarfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from sklearn.model_selection import train_test_split
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm; option A shortcut (He et al. 2016, Sec. 3.3)."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.pad = stride, planes - in_planes

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    """6n + 2 = 20 weighted layers: conv, three stages of n = 3 blocks, pool, linear."""

    def __init__(self, num_classes: int = 10, n: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def read_archive(path: Path) -> tuple[list[Image.Image], list[int], list[str]]:
    """Every ``train/<class>/<file>.jpg`` of the archive, decoded once, in RGB."""
    images, names = [], []
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile() and member.name.lower().endswith((".jpg", ".jpeg", ".png")):
                data = archive.extractfile(member).read()
                images.append(Image.open(io.BytesIO(data)).convert("RGB"))
                names.append(Path(member.name).parent.name)
    classes = sorted(set(names))
    return images, [classes.index(n) for n in names], classes


class Images(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to zero at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


@torch.inference_mode()
def accuracy(model: nn.Module, loader) -> float:
    model.eval()
    correct = seen = 0
    for x, y in loader:
        correct += (model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum()
        seen += len(y)
    return int(correct) / seen


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="train.tar.gz")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("resnet20-reference.jsonl"))
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    images, labels, classes = read_archive(args.data_dir)
    train_idx, val_idx = train_test_split(
        range(len(images)), test_size=0.1, stratify=labels, random_state=args.seed
    )
    train_pil = [images[i] for i in train_idx]
    # Per-channel statistics of the training split (as cnnlab's "channel" normalization).
    pixels = torch.stack([T.functional.pil_to_tensor(im) for im in train_pil]).float() / 255
    mean, std = pixels.mean((0, 2, 3)).tolist(), pixels.std((0, 2, 3)).tolist()
    normalize = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
    augment = T.Compose(
        [T.RandomCrop(32, padding=4, padding_mode="reflect"), T.RandomHorizontalFlip(), normalize]
    )
    train = Images(train_pil, [labels[i] for i in train_idx], augment)
    val = Images([images[i] for i in val_idx], [labels[i] for i in val_idx], normalize)
    train_loader = torch.utils.data.DataLoader(train, args.batch_size, shuffle=True)
    val_loader = torch.utils.data.DataLoader(val, 500)

    model = ResNet20(len(classes)).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=args.lr,
        momentum=0.9,
        nesterov=True,
        weight_decay=args.weight_decay,
    )
    steps = len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, steps, steps * args.epochs)
    )
    rows: list[str] = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        started, correct, seen = time.perf_counter(), 0, 0
        for x, y in train_loader:
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        row = {
            "epoch": epoch,
            "train_acc": correct / seen,
            "val_acc": accuracy(model, val_loader),
            "seconds": time.perf_counter() - started,
        }
        rows.append(json.dumps(row))
        write_atomic(args.out, "\n".join(rows) + "\n")
        print(rows[-1], flush=True)


if __name__ == "__main__":
    main()
