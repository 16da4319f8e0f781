"""Real small data sets for ``optik train`` and ``optik anomaly``, made offline with OpenCV and scikit-image.

Classification: four kinds of object that ImageNet has a class for — analogue clock faces, seven-segment
digital clocks, crossword grids and traffic lights — each image drawn with its own random geometry (time shown,
grid pattern, lit lamp, size, position, turn, colours) over a crop of a photo or texture, under varied light
(gradients, gamma, colour casts), noise, blur and JPEG. Training and held-out images never share a background
photo: :data:`TRAIN_BACKGROUNDS` and :data:`HELD_OUT_BACKGROUNDS` are disjoint.

Anomaly detection: normal images are crops of scikit-image textures (brick, gravel, a tissue micrograph) or a
rendered machined part (a flange with a bolt circle) under small changes of position and light; defects are
scratches, spots, missing parts and colour shifts at several strengths, each with its pixel mask. Normal
fitting images come from one half of each texture and test images from the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

CLASSES = ("analog-clock", "digital-clock", "crossword", "traffic-light")
#: ImageNet labels of each class, for the pretrained head's zero-shot mapping
IMAGENET_LABELS = {
    "analog-clock": ("analog clock", "wall clock"),
    "digital-clock": ("digital clock",),
    "crossword": ("crossword puzzle",),
    "traffic-light": ("traffic light",),
}
TRAIN_BACKGROUNDS = ("brick", "grass", "coffee", "rocket", "immunohistochemistry", "page")
HELD_OUT_BACKGROUNDS = ("gravel", "astronaut", "chelsea", "hubble_deep_field", "camera")
SIDE = 256
DEFECTS = ("scratch", "spot", "missing", "colour")
STRENGTHS = (0.35, 0.65, 1.0)


def rgb8(array: np.ndarray) -> np.ndarray:
    """Any scikit-image sample as RGB uint8."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def sample(name: str) -> np.ndarray:
    import skimage.data

    return rgb8(getattr(skimage.data, name)())


def write(path: Path, rgb: np.ndarray, quality: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = [cv2.IMWRITE_JPEG_QUALITY, quality] if quality else []
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), options)
    return path


# --- classification ---------------------------------------------------------------------------------------------


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _analog_clock(layer: np.ndarray, rng: np.random.Generator) -> None:
    centre, radius = (SIDE // 2, SIDE // 2), int(rng.integers(70, 110))
    cv2.circle(layer, centre, radius, _colour(rng, 180, 256), -1, cv2.LINE_AA)
    cv2.circle(layer, centre, radius, _colour(rng, 0, 120), max(3, radius // 9), cv2.LINE_AA)
    ink = _colour(rng, 0, 70)
    for tick in range(60 if rng.random() < 0.5 else 12):
        angle = tick * 2 * math.pi / (60 if tick >= 12 or rng.random() < 0.5 else 12)
        major = tick % 5 == 0
        inner = radius * (0.72 if major else 0.8)
        start = (int(centre[0] + inner * math.sin(angle)), int(centre[1] - inner * math.cos(angle)))
        end = (int(centre[0] + radius * 0.86 * math.sin(angle)), int(centre[1] - radius * 0.86 * math.cos(angle)))
        cv2.line(layer, start, end, ink, 3 if major else 1, cv2.LINE_AA)
    hours, minutes = rng.uniform(0, 12), rng.uniform(0, 60)
    for value, period, length, width in ((hours, 12, 0.5, 7), (minutes, 60, 0.75, 4)):
        angle = value / period * 2 * math.pi
        tip = (int(centre[0] + radius * length * math.sin(angle)), int(centre[1] - radius * length * math.cos(angle)))
        cv2.line(layer, centre, tip, ink, width, cv2.LINE_AA)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * math.pi)
        tip = (int(centre[0] + radius * 0.8 * math.sin(angle)), int(centre[1] - radius * 0.8 * math.cos(angle)))
        cv2.line(layer, centre, tip, (200, 30, 30), 2, cv2.LINE_AA)
    cv2.circle(layer, centre, 6, ink, -1, cv2.LINE_AA)


_SEGMENTS = {  # which of the seven segments (a-g) each digit lights
    "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
    "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
}  # fmt: skip


def _digit(layer: np.ndarray, digit: str, x: int, y: int, width: int, height: int, on: tuple, off: tuple) -> None:
    half = height // 2
    thickness = max(3, width // 5)
    ends = {
        "a": ((x, y), (x + width, y)),
        "b": ((x + width, y), (x + width, y + half)),
        "c": ((x + width, y + half), (x + width, y + height)),
        "d": ((x, y + height), (x + width, y + height)),
        "e": ((x, y + half), (x, y + height)),
        "f": ((x, y), (x, y + half)),
        "g": ((x, y + half), (x + width, y + half)),
    }
    for segment, (start, end) in ends.items():
        cv2.line(layer, start, end, on if segment in _SEGMENTS[digit] else off, thickness, cv2.LINE_AA)


def _digital_clock(layer: np.ndarray, rng: np.random.Generator) -> None:
    width, height = int(rng.integers(170, 230)), int(rng.integers(80, 120))
    left, top = (SIDE - width) // 2, (SIDE - height) // 2
    cv2.rectangle(layer, (left, top), (left + width, top + height), _colour(rng, 10, 90), -1)
    pad = 10
    cv2.rectangle(layer, (left + pad, top + pad), (left + width - pad, top + height - pad), _colour(rng, 0, 30), -1)
    glow = ((255, 40, 30), (60, 255, 90), (90, 200, 255), (255, 180, 40))[int(rng.integers(4))]
    off = tuple(int(c * 0.12) for c in glow)
    digit_w, digit_h = (width - 2 * pad - 50) // 4 - 6, height - 2 * pad - 20
    time = f"{rng.integers(0, 24):02d}{rng.integers(0, 60):02d}"
    x = left + pad + 10
    for position, digit in enumerate(time):
        _digit(layer, digit, x, top + pad + 10, digit_w, digit_h, glow, off)
        x += digit_w + 14
        if position == 1:
            for dy in (digit_h // 3, 2 * digit_h // 3):
                cv2.circle(layer, (x - 2, top + pad + 10 + dy), 3, glow, -1, cv2.LINE_AA)
            x += 12


def _crossword(layer: np.ndarray, rng: np.random.Generator) -> None:
    cells = int(rng.integers(9, 16))
    size = int(rng.integers(150, 215)) // cells
    side = cells * size
    left, top = (SIDE - side) // 2, (SIDE - side) // 2
    paper = _colour(rng, 215, 256)
    cv2.rectangle(layer, (left - 6, top - 6), (left + side + 6, top + side + 6), paper, -1)
    black = rng.random((cells, cells)) < rng.uniform(0.12, 0.25)
    black |= black[::-1, ::-1]  # crosswords are symmetric under a half turn
    for row in range(cells):
        for column in range(cells):
            x, y = left + column * size, top + row * size
            if black[row, column]:
                cv2.rectangle(layer, (x, y), (x + size, y + size), (15, 15, 15), -1)
            elif rng.random() < 0.2 and size >= 12:
                cv2.putText(layer, str(rng.integers(1, 80)), (x + 1, y + 7), cv2.FONT_HERSHEY_PLAIN, 0.5, (20, 20, 20))
    for k in range(cells + 1):
        cv2.line(layer, (left + k * size, top), (left + k * size, top + side), (30, 30, 30), 1)
        cv2.line(layer, (left, top + k * size), (left + side, top + k * size), (30, 30, 30), 1)


def _traffic_light(layer: np.ndarray, rng: np.random.Generator) -> None:
    lamp = int(rng.integers(22, 32))
    width, height = 2 * lamp + 24, 6 * lamp + 40
    left, top = (SIDE - width) // 2, (SIDE - height) // 2 - 10
    housing = ((25, 25, 25), (200, 170, 20), (40, 60, 40), (70, 70, 75))[int(rng.integers(4))]
    cv2.rectangle(layer, (SIDE // 2 - 6, top + height), (SIDE // 2 + 6, SIDE), (110, 110, 115), -1)
    cv2.rectangle(layer, (left, top), (left + width, top + height), housing, -1)
    lit = int(rng.integers(3))
    for position, colour in enumerate(((255, 40, 30), (255, 200, 0), (40, 230, 90))):
        centre = (SIDE // 2, top + 20 + lamp + position * (2 * lamp + 2))
        shade = colour if position == lit else tuple(int(c * 0.25) for c in colour)
        cv2.ellipse(layer, centre, (lamp + 5, lamp + 5), 0, 180, 360, (10, 10, 10), 4, cv2.LINE_AA)  # visor
        cv2.circle(layer, centre, lamp, shade, -1, cv2.LINE_AA)


_DRAW = {
    "analog-clock": _analog_clock,
    "digital-clock": _digital_clock,
    "crossword": _crossword,
    "traffic-light": _traffic_light,
}


def _background(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = photo.shape[:2]
    side = int(rng.integers(min(height, width) // 3, min(height, width) + 1))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    return cv2.resize(photo[top : top + side, left : left + side], (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def _light(rgb: np.ndarray, rng: np.random.Generator, amount: float = 1.0) -> np.ndarray:
    """A gradient of light, a gamma, a colour cast, noise and blur; ``amount`` scales how strong they are."""
    image = rgb.astype(np.float32) / 255
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] / SIDE - 0.5
    ramp = 1 + amount * rng.uniform(0.1, 0.45) * (xs * math.cos(angle) + ys * math.sin(angle)) * 2
    image = image * ramp[..., None] * (1 + amount * rng.uniform(-0.15, 0.15, 3))
    image = np.clip(image, 0, 1) ** math.exp(amount * rng.uniform(-0.4, 0.4))
    image = image * 255 + rng.normal(0, amount * rng.uniform(0, 6), image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    blur = amount * rng.uniform(0, 1.2)
    return cv2.GaussianBlur(image, (0, 0), blur) if blur > 0.3 else image


def object_image(kind: str, photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One ``kind`` drawn over a crop of ``photo``, turned, scaled, moved and lit at random."""
    layer = np.zeros((SIDE, SIDE, 3), np.uint8)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    _DRAW[kind](layer, rng)
    mask[layer.max(axis=2) > 0] = 255
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))  # dark strokes (value 0) inside the object count too
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    scale = rng.uniform(0.7, 1.1)
    turn = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), rng.uniform(-25, 25), scale)
    turn[:, 2] += rng.uniform(-25, 25, 2)
    layer = cv2.warpAffine(layer, turn, (SIDE, SIDE), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, turn, (SIDE, SIDE), flags=cv2.INTER_LINEAR)[..., None].astype(np.float32) / 255
    picture = _background(photo, rng) * (1 - alpha) + layer * alpha
    return _light(picture.astype(np.uint8), rng)


def classification_set(per_class: int, backgrounds: tuple[str, ...], seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """``per_class`` images of each class as (class, RGB uint8 256×256), backgrounds taken in turn."""
    rng = np.random.default_rng(seed)
    photos = [sample(name) for name in backgrounds]
    for index in range(per_class):
        for kind in CLASSES:
            yield kind, object_image(kind, photos[(index + CLASSES.index(kind)) % len(photos)], rng)


def write_image_folder(root: Path, images: Iterable[tuple[str, np.ndarray]], seed: int) -> list[tuple[Path, str]]:
    """``images`` (class, RGB) as ``ROOT/CLASS/NNNN.jpg`` (JPEG quality 60-95): (path, class) each."""
    rng = np.random.default_rng(seed + 1)
    written = []
    for index, (kind, rgb) in enumerate(images):
        written.append((write(root / kind / f"{index:04d}.jpg", rgb, int(rng.integers(60, 96))), kind))
    return written


# --- anomaly detection ------------------------------------------------------------------------------------------

TEXTURES = ("brick", "gravel", "immunohistochemistry")
CATEGORIES = (*TEXTURES, "flange")


def _flange(rng: np.random.Generator, jitter: float = 1.0) -> np.ndarray:
    """A machined flange (a disk with a bore and a bolt circle of six holes) on a grey conveyor."""
    image = np.full((SIDE, SIDE, 3), 70, np.uint8)
    image = (image + rng.normal(0, 3, image.shape)).clip(0, 255).astype(np.uint8)
    centre = (SIDE / 2 + jitter * rng.uniform(-6, 6), SIDE / 2 + jitter * rng.uniform(-6, 6))
    turn = jitter * rng.uniform(-8, 8)
    c = (int(centre[0]), int(centre[1]))
    cv2.circle(image, c, 100, (175, 178, 182), -1, cv2.LINE_AA)
    cv2.circle(image, c, 100, (120, 122, 126), 3, cv2.LINE_AA)
    cv2.circle(image, c, 72, (150, 152, 156), 2, cv2.LINE_AA)
    cv2.circle(image, c, 34, (70, 70, 70), -1, cv2.LINE_AA)
    cv2.circle(image, c, 38, (125, 127, 130), 3, cv2.LINE_AA)
    for hole in range(6):
        angle = math.radians(turn + hole * 60)
        at = (int(centre[0] + 60 * math.cos(angle)), int(centre[1] + 60 * math.sin(angle)))
        cv2.circle(image, at, 11, (70, 70, 70), -1, cv2.LINE_AA)
        cv2.circle(image, at, 13, (135, 137, 140), 2, cv2.LINE_AA)
    return image


def normal_image(category: str, half: int, rng: np.random.Generator) -> np.ndarray:
    """A defect-free image of ``category``: textures cut from their top (``half`` 0) or bottom (1) half."""
    if category == "flange":
        picture = _flange(rng)
    else:
        texture = sample(category)
        height, width = texture.shape[:2]
        side = int(rng.integers(150, 200))
        top = half * height // 2 + int(rng.integers(0, height // 2 - side + 1))
        left = int(rng.integers(0, width - side + 1))
        picture = cv2.resize(texture[top : top + side, left : left + side], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return _light(picture, rng, 0.3)


def add_defect(rgb: np.ndarray, kind: str, strength: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``rgb`` with one ``kind`` of defect (``strength`` 0-1: how visible) and its mask (bool)."""
    image = rgb.astype(np.float32)
    mask = np.zeros((SIDE, SIDE), np.uint8)
    centre = (int(rng.integers(60, SIDE - 60)), int(rng.integers(60, SIDE - 60)))
    if kind == "scratch":
        angle = rng.uniform(0, math.pi)
        length = rng.uniform(40, 90)
        bend = rng.uniform(-12, 12)
        points = [
            (centre[0] + t * length * math.cos(angle) - bend * t * t, centre[1] + t * length * math.sin(angle))
            for t in np.linspace(-0.5, 0.5, 9)
        ]
        cv2.polylines(mask, [np.int32(points)], False, 255, int(rng.integers(2, 4)), cv2.LINE_AA)
        change = np.full(3, (1 if rng.random() < 0.5 else -1) * 110 * strength, np.float32)
    elif kind == "spot":
        axes = (int(rng.integers(5, 12)), int(rng.integers(5, 12)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
        change = (np.array(_colour(rng, 0, 256), np.float32) - image[centre[1], centre[0]]) * strength
    elif kind == "missing":
        radius = int(rng.integers(14, 24))
        cv2.circle(mask, centre, radius, 255, -1, cv2.LINE_AA)
        hidden = cv2.GaussianBlur(rgb, (0, 0), 12).astype(np.float32)  # the structure there is gone
        weight = (mask[..., None] / 255.0) * strength
        return _masked(image * (1 - weight) + hidden * weight, mask)
    else:  # colour: a stain that shifts the colour of a region
        axes = (int(rng.integers(18, 34)), int(rng.integers(18, 34)))
        cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
        tint = np.array(((210, 120, 40), (60, 150, 220), (200, 60, 160))[int(rng.integers(3))], np.float32)
        change = None
        weight = cv2.GaussianBlur(mask, (0, 0), 4)[..., None] / 255.0 * 0.55 * strength
        return _masked(image * (1 - weight) + tint * image.mean(axis=2, keepdims=True) / 128 * weight, mask)
    return _masked(image + (mask[..., None] / 255.0) * change, mask)


def _masked(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(image, 0, 255).astype(np.uint8), mask > 127


def anomaly_set(category: str, normal: int, defective_each: int, seed: int) -> dict[str, list]:
    """Images of ``category``: ``fit`` (``normal`` defect-free images from the first half), and ``test``: as
    many defect-free images from the other half plus ``defective_each`` of every defect kind at every strength,
    as (image, mask or None, kind, strength)."""
    rng = np.random.default_rng(seed)
    fit = [normal_image(category, 0, rng) for _ in range(normal)]
    test: list[tuple[np.ndarray, np.ndarray | None, str, float]] = [
        (normal_image(category, 1, rng), None, "normal", 0.0) for _ in range(normal)
    ]
    for kind in DEFECTS:
        for strength in STRENGTHS:
            for _ in range(defective_each):
                image, mask = add_defect(normal_image(category, 1, rng), kind, strength, rng)
                test.append((image, mask, kind, strength))
    return {"fit": fit, "test": test}


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a positive scores above a negative (ties count half)."""
    from scipy.stats import rankdata

    scores, positive = np.asarray(scores, np.float64).ravel(), np.asarray(positive, bool).ravel()
    ranks = rankdata(scores)
    positives, negatives = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


INSPECTION_CLASSES = ("good", *DEFECTS)


def inspection_set(per_class: int, seed: int) -> Iterator[tuple[str, np.ndarray]]:
    """A task no ImageNet label names: flanges that are good or have one clearly visible defect (strength 0.7-1),
    ``per_class`` of each, as (class, RGB uint8)."""
    rng = np.random.default_rng(seed)
    for _ in range(per_class):
        for kind in INSPECTION_CLASSES:
            image = normal_image("flange", 0, rng)
            yield kind, image if kind == "good" else add_defect(image, kind, rng.uniform(0.7, 1.0), rng)[0]
