import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data import load_image
from cnnlab.errors import DataError

rng = np.random.default_rng(0)


def save(path, mode, size=(37, 23), **kwargs):
    channels = {"L": 1, "RGB": 3, "RGBA": 4}.get(mode, 1)
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels)
    if mode == "P":
        image = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    image.save(path, **kwargs)
    return image


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
@pytest.mark.parametrize("in_chans", [1, 3])
def test_png_of_any_mode_loads_as_float_of_requested_shape(tmp_path, mode, in_chans):
    save(tmp_path / "a.png", mode)
    image = load_image(tmp_path / "a.png", in_chans, (16, 20))
    assert image.shape == (in_chans, 16, 20) and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1


@pytest.mark.parametrize("in_chans", [1, 3])
def test_jpeg_of_odd_size_loads(tmp_path, in_chans):
    save(tmp_path / "a.jpg", "RGB", size=(33, 17), quality=90)
    assert load_image(tmp_path / "a.jpg", in_chans, (32, 32)).shape == (in_chans, 32, 32)


def test_bmp_falls_back_to_pillow(tmp_path):
    save(tmp_path / "a.bmp", "RGB", size=(8, 8))
    assert load_image(tmp_path / "a.bmp", 3, (8, 8)).shape == (3, 8, 8)


def test_grey_to_rgb_repeats_the_channel(tmp_path):
    save(tmp_path / "g.png", "L", size=(9, 9))
    image = load_image(tmp_path / "g.png", 3, (9, 9))
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    expected = np.asarray(Image.open(tmp_path / "g.png"), dtype=np.float32) / 255
    np.testing.assert_allclose(image[0].numpy(), expected)


def test_rgb_to_grey_is_luminance(tmp_path):
    pixels = np.zeros((4, 4, 3), np.uint8)
    pixels[..., 0] = 200  # pure red: luminance 0.299 * 200 = 59.8
    Image.fromarray(pixels).save(tmp_path / "r.png")
    image = load_image(tmp_path / "r.png", 1, (4, 4))
    assert image.shape == (1, 4, 4)
    assert abs(image.mean().item() * 255 - 0.299 * 200) < 1.5


def test_rgba_drops_alpha_without_changing_colour(tmp_path):
    pixels = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png", 3, (5, 6))
    np.testing.assert_allclose(image.numpy(), pixels[..., :3].transpose(2, 0, 1) / 255, atol=1e-6)


def test_palette_png_is_decoded_to_its_colours(tmp_path):
    image = save(tmp_path / "p.png", "P", size=(7, 6))
    expected = np.asarray(image.convert("RGB")).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(load_image(tmp_path / "p.png", 3, (6, 7)).numpy(), expected)


def test_16_bit_png_is_scaled_to_8_bits(tmp_path):
    Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(tmp_path / "deep.png")
    assert torch.equal(load_image(tmp_path / "deep.png", 1, (4, 5)), torch.ones(1, 4, 5))


def test_garbage_file_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"this is not an image")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_image(path, 3, (8, 8))


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nothing\.jpg"):
        load_image(tmp_path / "nothing.jpg", 3, (8, 8))
