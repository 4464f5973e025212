# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest
import torch
from PIL import Image

from tao_ocrnet.data.augment import AugmentParams, TrainAugment
from tao_ocrnet.data.images import ImageDecodeError, decode_image, list_images, preprocess
from tao_ocrnet.data.transforms import ImageTransform
from tao_ocrnet.errors import DataError

from data_fixtures import image_bytes


def _gradient(w: int, h: int, mode: str = "L") -> Image.Image:
    arr = np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))
    img = Image.fromarray(arr, "L")
    return img.convert(mode)


def test_decode_modes_and_errors():
    assert decode_image(image_bytes(), 1).mode == "L"
    assert decode_image(image_bytes(), 3).mode == "RGB"
    assert decode_image(image_bytes(mode="L"), 3).mode == "RGB"
    with pytest.raises(ImageDecodeError, match=r"cannot decode"):
        decode_image(b"not an image", 1, source="x.png")
    with pytest.raises(ImageDecodeError):
        decode_image(image_bytes(fmt="PNG")[:60], 1)  # truncated
    assert issubclass(ImageDecodeError, DataError)


@pytest.mark.parametrize(("channel", "c"), [(1, 1), (3, 3)])
def test_preprocess_shape_range_dtype(channel, c):
    t = preprocess(_gradient(57, 20, "RGB"), channel, 32, 100)
    assert t.shape == (c, 32, 100)
    assert t.dtype == torch.float32
    assert t.min() >= -1 and t.max() <= 1
    assert t.min() < -0.9 and t.max() > 0.9


def test_preprocess_matches_reference_formula():
    img = _gradient(100, 32)
    t = preprocess(img, 1, 32, 100)
    expected = (np.asarray(img, dtype=np.float32) / 255.0 - 0.5) / 0.5
    assert np.array_equal(t[0].numpy(), expected)


def test_pad_mode_repeats_last_column():
    img = _gradient(40, 20)  # ratio 2 -> width ceil(32*2) = 64 < 100
    t = preprocess(img, 1, 32, 100, keep_aspect_ratio=True)
    assert t.shape == (1, 32, 100)
    last = t[:, :, 63:64]
    assert torch.equal(t[:, :, 64:], last.expand(-1, -1, 36))
    assert not torch.equal(t[:, :, 0], t[:, :, 63])
    # wide image: no padding, plain resize
    wide = preprocess(_gradient(400, 20), 1, 32, 100, keep_aspect_ratio=True)
    assert torch.equal(wide, preprocess(_gradient(400, 20), 1, 32, 100))


def test_list_images_sorted_recursive_any_case(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ["z.PNG", "a.jpg", "b/c.JpEg", "b/d.bmp", "notes.txt", "b/e.gif"]:
        (tmp_path / name).write_bytes(b"x")
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["a.jpg", "b/c.JpEg", "b/d.bmp", "z.PNG"]
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["a.jpg", "z.PNG"]
    with pytest.raises(DataError, match=r"inference.inference_dataset_dir"):
        list_images(tmp_path / "missing", key="inference.inference_dataset_dir")


def test_augment_sizes_and_determinism():
    params = AugmentParams(aug_prob=1.0, reverse_color_prob=1.0, rotate_prob=1.0, blur_prob=1.0)
    aug = TrainAugment(params, 32, 100)
    img = _gradient(57, 20)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = aug(img, g1), aug(img, g2)
    assert a.size == (100, 32)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    # inverted: the dark left edge of the gradient became bright
    assert np.asarray(a)[16, 2] > 128


def test_augment_off_is_plain_resize():
    aug = TrainAugment(AugmentParams(aug_prob=0.0), 32, 100)
    img = _gradient(57, 20)
    assert np.array_equal(np.asarray(aug(img)), np.asarray(img.resize((100, 32), Image.Resampling.BICUBIC)))


def test_augment_in_pad_mode_keeps_pad_width_and_pads():
    params = AugmentParams(aug_prob=1.0, reverse_color_prob=0.0, rotate_prob=1.0, blur_prob=0.0)
    aug = TrainAugment(params, 32, 100, keep_aspect_ratio=True)
    out = aug(_gradient(40, 20), torch.Generator().manual_seed(0))
    assert out.size == (64, 32)
    t = ImageTransform(1, 32, 100, keep_aspect_ratio=True, augment=aug)(_gradient(40, 20))
    assert t.shape == (1, 32, 100)
    assert torch.equal(t[:, :, 64:], t[:, :, 63:64].expand(-1, -1, 36))
