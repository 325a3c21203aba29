import numpy as np
import torch

from cnnlab.data import TensorImageDataset, channel_stats, mean_image
from cnnlab.data.datasets import FolderImageDataset


def random_dataset(n=2500, channels=3):
    images = torch.randint(
        0, 256, (n, channels, 5, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    images[:, 0] //= 2  # make channels differ
    return TensorImageDataset(images, torch.zeros(n, dtype=torch.int64), ["a"])


def test_channel_stats_match_numpy():
    data = random_dataset()
    mean, std = channel_stats(data)
    reference = data.images.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(mean.numpy(), reference.mean((0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), reference.std((0, 2, 3)), rtol=1e-5)
    assert mean.shape == std.shape == (3,)


def test_mean_image_matches_numpy():
    data = random_dataset()
    reference = data.images.numpy().astype(np.float64).mean(0) / 255
    np.testing.assert_allclose(mean_image(data).numpy(), reference, rtol=1e-6)


def test_stats_of_streamed_folder_equal_in_memory(tmp_path, make_image_folder):
    from cnnlab.data.imagefolder import decode_all, scan

    make_image_folder(tmp_path, {"a": 3, "b": 4})
    classes, paths, labels = scan(tmp_path)
    memory = decode_all(paths, labels, classes, None)
    streamed = FolderImageDataset(paths, labels, classes, size=(12, 10), channels=3)
    for a, b in zip(channel_stats(memory), channel_stats(streamed), strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(mean_image(memory), mean_image(streamed))
