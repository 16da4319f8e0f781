"""``optik anomaly``: image and pixel AUROC of the fitted detector on textures and a machined part with synthetic
defects at three strengths, against PaDiM on the same patch features; the coreset share; fitting and scoring time.

Data: tests/learning_sets.py (brick, gravel, a tissue micrograph, a rendered flange; fitting images from one half
of each texture, test images from the other). Run from the repository root: ``.venv/bin/python bench/anomaly.py``.
"""

from __future__ import annotations

import optik  # first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.learning_sets

from optik import pipeline
from optik.io.memory import as_items
from optik.registry.backends import EAGER
from optik.registry.loading import load
from optik.registry.trained import BACKBONES, backbone_spec
from optik.tasks.anomaly import SMOOTHING, PatchFeatures, anomaly_map, fit_patchcore
from optik.tasks.settings import AnomalyFitSettings
from optik.tasks.train import collect
from tests import learning_sets


def patches(model, images: list[np.ndarray], settings: AnomalyFitSettings) -> list[np.ndarray]:
    items, _ = as_items(images)
    found, failures = collect(pipeline.run(PatchFeatures(model, settings), items, workers=1))
    assert not failures
    return found


def padim_maps(fit: list[np.ndarray], test: list[np.ndarray], side: int) -> np.ndarray:
    """PaDiM (Defard et al. 2021) on the same patch features: a Gaussian per patch position, Mahalanobis distance."""
    x = torch.from_numpy(np.stack(fit)).double()  # N × D × h × w
    count, dim, height, width = x.shape
    x = x.permute(2, 3, 0, 1).reshape(height * width, count, dim)
    mean = x.mean(1, keepdim=True)
    centred = x - mean
    covariance = centred.transpose(1, 2) @ centred / (count - 1) + 0.01 * torch.eye(dim, dtype=torch.float64)
    inverse = torch.linalg.inv(covariance)
    q = torch.from_numpy(np.stack(test)).double().permute(2, 3, 0, 1).reshape(height * width, len(test), dim) - mean
    distances = ((q @ inverse) * q).sum(-1).clamp(min=0).sqrt().T.reshape(len(test), height, width).numpy()
    return np.stack([anomaly_map(d, side, SMOOTHING) for d in distances])


def scores_of(maps: np.ndarray, truth: list) -> dict[str, float]:
    """Image AUROC over everything, per defect kind, per strength; pixel AUROC."""
    scores = maps.reshape(len(maps), -1).max(1)
    defective = np.array([mask is not None for _, mask, _, _ in truth])
    found = {"image": learning_sets.auroc(scores, defective)}
    for kind in learning_sets.DEFECTS:
        chosen = [i for i, (_, _, k, _) in enumerate(truth) if k in ("normal", kind)]
        found[kind] = learning_sets.auroc(scores[chosen], defective[chosen])
    for strength in learning_sets.STRENGTHS:
        chosen = [i for i, (_, _, k, s) in enumerate(truth) if k == "normal" or s == strength]
        found[f"s{strength}"] = learning_sets.auroc(scores[chosen], defective[chosen])
    side = (learning_sets.SIDE, learning_sets.SIDE)
    masks = np.stack([mask if mask is not None else np.zeros(side, bool) for _, mask, _, _ in truth])
    found["pixel"] = learning_sets.auroc(_resized(maps, masks.shape[1:])[:, ::2, ::2], masks[:, ::2, ::2])
    return found


def _resized(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(m, size[::-1], interpolation=cv2.INTER_LINEAR) for m in maps])


def row(name: str, found: dict[str, float], extra: str = "") -> str:
    strengths = " | ".join(f"{found[f's{s}']:.3f}" for s in learning_sets.STRENGTHS)
    kinds = " | ".join(f"{found[k]:.3f}" for k in learning_sets.DEFECTS)
    return f"| {name} | {found['image']:.3f} | {strengths} | {kinds} | {found['pixel']:.3f} |{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--normal", type=int, default=30, help="normal images to fit on (and as many to test)")
    parser.add_argument("--each", type=int, default=3, help="defective test images per kind and strength")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# threads {args.threads}, load average {os.getloadavg()[0]:.1f}, torch {torch.__version__}")
    header = " | ".join(f"s {s}" for s in learning_sets.STRENGTHS) + " | " + " | ".join(learning_sets.DEFECTS)
    print(f"| category, method | image AUROC | {header} | pixel AUROC | notes |")
    totals: dict[str, list[dict[str, float]]] = {}
    for backbone in BACKBONES:
        model = load(backbone_spec(backbone), "cpu", False, None, EAGER)
        settings = AnomalyFitSettings(backbone=backbone)
        for index, category in enumerate(learning_sets.CATEGORIES):
            data = learning_sets.anomaly_set(category, args.normal, args.each, seed=index)
            truth = data["test"]
            started = time.perf_counter()
            fit_patches = patches(model, data["fit"], settings)
            extraction = time.perf_counter() - started
            test_images = [image for image, *_ in truth]
            rng = np.random.default_rng(100 + index)  # new normal images from the fitting half (textures)
            same_half = [learning_sets.normal_image(category, 0, rng) for _ in range(args.normal)]
            for coreset in (0.01, 0.1, 1.0) if backbone == BACKBONES[0] else (0.1,):  # 1.0: capped at MAX_BANK
                started = time.perf_counter()
                fitted = fit_patchcore(
                    model, fit_patches, AnomalyFitSettings(backbone, coreset=coreset), category, "", []
                )
                fitting = time.perf_counter() - started
                directory = Path(tempfile.mkdtemp()) / category
                fitted.save(directory)
                started = time.perf_counter()
                results = optik.anomaly(test_images, model=directory, device="cpu")
                scoring = (time.perf_counter() - started) / len(results)
                found = scores_of(np.stack([r.heat for r in results]), truth)
                normal_flagged = np.mean([r.anomalous for r, t in zip(results, truth, strict=True) if t[1] is None])
                caught = np.mean([r.anomalous for r, t in zip(results, truth, strict=True) if t[3] == 1.0])
                alike = np.mean([r.anomalous for r in optik.anomaly(same_half, model=directory, device="cpu")])
                name = f"{category}, {backbone} PatchCore {coreset:g}"
                totals.setdefault(name.split(", ", 1)[1], []).append(found)
                print(
                    row(
                        name,
                        found,
                        f" bank {fitted.architecture['bank_size']}; features {extraction:.1f} s, fit {fitting:.1f} s, "
                        f"score {scoring * 1e3:.0f} ms/image; flagged at the threshold: {caught:.0%} of the clearest "
                        f"defects, {normal_flagged:.0%} of the normal test images, {alike:.0%} of new normal images "
                        f"from the fitting half |",
                    ),
                    flush=True,
                )
            if backbone == BACKBONES[0]:
                test_patches = patches(model, test_images, settings)
                found = scores_of(padim_maps(fit_patches, test_patches, settings.size), truth)
                totals.setdefault(f"{backbone} PaDiM", []).append(found)
                print(row(f"{category}, {backbone} PaDiM", found, " |"), flush=True)
    for name, rows in totals.items():
        mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
        print(row(f"**mean, {name}**", mean, " |"))
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
