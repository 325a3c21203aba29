import torch

from cnnlab.data import load_data
from cnnlab.data.digits import load_digits


def test_digits_are_1797_padded_32x32_images():
    data = load_digits()
    assert data.images.shape == (1797, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.classes == [str(d) for d in range(10)]
    border = torch.cat(
        [
            data.images[..., :2, :].flatten(),
            data.images[..., -2:, :].flatten(),
            data.images[..., :2].flatten(),
            data.images[..., -2:].flatten(),
        ]
    )
    assert border.max() == 0
    assert data.images.max() == 255


def test_test_split_is_fixed_20_percent_whatever_the_seed():
    a, b = load_data("digits", seed=0), load_data("digits", seed=1)
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert abs(len(a.test) - 0.2 * 1797) < 10
    assert torch.equal(a.test.images, b.test.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.val.images, b.val.images)
    assert a.input_shape == (1, 32, 32)
