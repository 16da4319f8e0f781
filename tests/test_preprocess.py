"""The shared preprocessing layer: decode (orientation, depth, gray, alpha, limits), resize modes, mapping back."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image as PILImage

from optik.errors import InputError
from optik.preprocess.decode import Image, decode, encode
from optik.preprocess.geometry import Affine, letterbox, map_boxes, unmap_mask
from optik.preprocess.transforms import InputSpec, prepare, to_batch


def _png(array: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", array)
    assert ok
    return buffer.tobytes()


def test_exif_orientation_is_applied(sample):
    rgb = sample("chelsea")  # 300×451
    pil = PILImage.fromarray(rgb)
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    image = decode(buffer.getvalue(), "rotated.jpg")
    assert (image.width, image.height) == (300, 451)
    upright = np.asarray(PILImage.open(buffer).transpose(PILImage.Transpose.ROTATE_270))
    assert np.abs(image.pixels.astype(int) - upright.astype(int)).mean() < 3


def test_sixteen_bit_gray_and_alpha_survive_a_round_trip():
    ramp16 = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    gray = decode(_png(ramp16), "gray16.png")
    assert gray.gray and gray.bit_depth == 16 and gray.pixels.shape == (48, 64, 3)
    assert np.array_equal(gray.pixels[:, :, 0], ramp16)
    again = decode(encode(gray, ".png"), "again.png")
    assert again.gray and np.array_equal(again.pixels, gray.pixels)
    assert gray.rgb8().dtype == np.uint8 and abs(int(gray.rgb8()[-1, -1, 0]) - round(ramp16[-1, -1] / 257)) <= 1

    bgra = np.zeros((20, 30, 4), np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 200, 10, np.arange(30, dtype=np.uint8)[None] * 8
    rgba = decode(_png(bgra), "alpha.png")
    assert rgba.pixels[0, 0].tolist() == [10, 0, 200] and np.array_equal(rgba.alpha, bgra[..., 3])
    assert np.array_equal(decode(encode(rgba, ".png")).alpha, rgba.alpha)
    assert decode(encode(rgba, ".jpg")).alpha is None  # JPEG has no alpha: colour only


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty file"), (b"GIF89a not really", "not a readable image"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not a")],
)
def test_bad_bytes_give_one_line_errors(data, message):
    with pytest.raises(InputError, match=message) as info:
        decode(data, "bad")
    assert "\n" not in str(info.value)


def test_pixel_limit_is_checked_from_the_header():
    big = np.zeros((1000, 1200, 3), np.uint8)
    with pytest.raises(InputError, match="over the limit"):
        decode(_png(big), "big.png", max_pixels=1_000_000)
    assert decode(_png(big), "big.png", max_pixels=1_200_000).width == 1200


@pytest.mark.parametrize("photo", ["chelsea", "coffee", "astronaut"])
def test_resize_crop_equals_torchvision_transforms(photo, sample):
    rgb = sample(photo)
    spec = InputSpec(size=(224, 224), resize="resize-crop", resize_size=256, interpolation="bilinear-antialias")
    ours, _ = prepare(rgb, spec)
    tensor = torch.from_numpy(rgb).permute(2, 0, 1)
    theirs = TF.center_crop(TF.resize(tensor, [256], antialias=True), [224, 224]).permute(1, 2, 0).numpy()
    assert np.array_equal(ours, theirs)


def test_to_batch_normalises_in_the_spec_colour_order():
    array = np.zeros((4, 4, 3), np.uint8)
    array[..., 0] = 255  # pure red
    rgb = to_batch([array], InputSpec(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)), torch.device("cpu"), torch.float32)
    assert rgb[0, :, 0, 0].tolist() == [1.0, -1.0, -1.0]
    bgr = to_batch([array], InputSpec(color="BGR", scale=1.0), torch.device("cpu"), torch.float32)
    assert bgr[0, :, 0, 0].tolist() == [0.0, 0.0, 255.0]


def test_letterbox_boxes_map_back_to_original_pixels():
    pixels = np.zeros((300, 600, 3), np.uint8)
    pixels[100:200, 150:300] = 255  # a white rectangle at x 150..300, y 100..200
    boxed, affine = letterbox(pixels, (416, 416))
    assert boxed.shape == (416, 416, 3) and affine.scale_x == pytest.approx(416 / 600)
    ys, xs = np.nonzero(boxed[..., 0] > 127)
    found = map_boxes(np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]), affine, 600, 300)[0]
    assert np.allclose(found, [150, 100, 300, 200], atol=2)


def test_unmap_mask_restores_the_original_geometry():
    mask = np.zeros((300, 600), np.float32)
    mask[:, 300:] = 1.0
    boxed, affine = letterbox(mask, (208, 208), cv2.INTER_LINEAR)
    back = unmap_mask(boxed, affine, 600, 300)
    assert back.shape == (300, 600)
    assert np.abs(back - mask).mean() < 0.01


def test_image_from_array_accepts_gray_rgb_rgba():
    assert Image.from_array(np.zeros((5, 6), np.uint8)).gray
    assert Image.from_array(np.zeros((5, 6, 4), np.uint8)).alpha is not None
    with pytest.raises(InputError):
        Image.from_array(np.zeros((5, 6), np.float32))
    assert Affine(2.0, 2.0, 10, 0).to_original(np.array([30.0]), np.array([4.0]))[0][0] == 10.0
