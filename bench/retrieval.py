"""Retrieval, dedupe and face-identity quality on sets built from the photos every machine here has.

    .venv/bin/python bench/retrieval.py              # all three parts (about 5 minutes on one core)
    .venv/bin/python bench/retrieval.py --part faces

1. Retrieval (bench/retrieval_set.py: 53 sources x 9 variants = 477 images): every image is a query against
   all others; its true matches are the 8 other variants of its source. recall@1 and mAP for each backbone,
   layer and pooling: GeM of the last 1280-channel layer (what the embed rows ship), its mean (the
   classifiers' own pooling) and maximum, the 320-channel block below it, a middle block, the logits.
2. Dedupe: the shipped embed rows through ``optik.dedupe`` at each level; pairwise precision and recall of
   the groups, and a sweep of the scene similarity threshold (which sets ``EmbeddingConfig.same_scene``).
3. Faces: every face MTCNN finds (score >= 0.95) in the astronaut and the six face-api demo photos, each also
   mirrored, halved, JPEG-compressed and brightened. One photo per person only: "same person" here means the
   same face photo transformed, so this measures robustness and separation between different people, not
   recognition across photos of a person taken on different days.
"""

from __future__ import annotations

import optik  # first, as in the optik command: torch then loads with OpenMP threads that sleep

# isort: split
import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from optik.nets.embedding import gem_pool
from optik.preprocess.transforms import prepare, to_batch
from optik.registry import get_spec, load_model, upstream
from optik.tasks.faces import FaceGallery
from optik.tasks.settings import DedupeSettings
from retrieval_set import VARIANTS, build_set, sources, write_set


def retrieval_metrics(vectors: np.ndarray, groups: list[str]) -> tuple[float, float]:
    """recall@1 and mAP with every image as a query against all the others."""
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    labels = np.asarray(groups)
    hits_at_1, precisions = [], []
    for i in range(len(vectors)):
        relevant = labels == labels[i]
        relevant[i] = False
        ranked = relevant[np.argsort(-similarity[i], kind="stable")[:-1]]
        hits_at_1.append(ranked[0])
        ranks = np.flatnonzero(ranked) + 1
        precisions.append(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    return float(np.mean(hits_at_1)), float(np.mean(precisions))


def layer_features(name: str, images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each candidate layer/pooling of the classifier ``name`` for every image (fp32, CPU, batch 1)."""
    model = load_model(name, "cpu")
    net, spec = model.module, model.spec.input_spec()
    taps = (
        {"head": net.features[18], "block 320": net.features[17], "block 96": net.features[13]}
        if name == "mobilenet_v2"
        else {"head": net._bn1, "block 320": net._blocks[-1], "block 112": net._blocks[10]}
    )
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, out, key=key: seen.__setitem__(key, out)) for key, m in taps.items()
    ]
    candidates: dict[str, list[np.ndarray]] = {}
    try:
        for image in images:
            array, _ = prepare(image, spec)
            with torch.inference_mode():  # the module itself (its hooks), not a compiled backend
                logits = net(model.tensor(to_batch([array], spec))).float()
            head = seen["head"].float() if name == "mobilenet_v2" else F.relu6(seen["head"].float())
            middle = next(key for key in taps if key not in ("head", "block 320"))
            for label, vector in (
                ("head 1280, GeM (shipped)", gem_pool(head)),
                ("head 1280, mean (the classifier's)", head.mean((2, 3))),
                ("head 1280, max", head.amax((2, 3))),
                ("block 320, mean", seen["block 320"].float().mean((2, 3))),
                (f"{middle}, mean", seen[middle].float().mean((2, 3))),
                ("logits 1000", logits),
            ):
                candidates.setdefault(label, []).append(vector[0].numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return {label: np.stack(vectors) for label, vectors in candidates.items()}


def part_retrieval() -> None:
    images, groups, _ = build_set()
    print(f"## Retrieval: {len(images)} images, {len(set(groups))} sources, every image a query\n")
    print("| backbone | layer, pooling | dim | recall@1 | mAP |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("efficientnet_lite0", "mobilenet_v2"):
        for label, vectors in layer_features(name, images).items():
            recall, mean_ap = retrieval_metrics(vectors, groups)
            print(f"| {name} | {label} | {vectors.shape[1]} | {recall:.3f} | {mean_ap:.3f} |")
    for model in ("efficientnet_lite0-embed", "mobilenet_v2-embed"):  # the shipped path, end to end
        results = optik.embed(images, model=model, device="cpu")
        recall, mean_ap = retrieval_metrics(np.stack([r.vector for r in results]), groups)
        print(f"| `optik.embed(model={model!r})` | through the pipeline | 1280 | {recall:.3f} | {mean_ap:.3f} |")


def _photo_of(source: str) -> str:
    """The photo a source was cut from (quadrants share it; the stereo pair is one scene)."""
    return "motorcycle" if source.startswith("motorcycle") else source.split("-")[0]


def _pairs(groups: list, names: dict[str, tuple[str, str]]) -> set[frozenset]:
    """Every pair of files that ended up in one group."""
    found = set()
    for group in groups:
        members = [group.keeper.path] + [d.photo.path for d in group.duplicates]
        found |= {frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1 :]}
    return found


def _truth(names: dict[str, tuple[str, str]], same: Callable[[tuple[str, str], tuple[str, str]], bool]) -> set:
    paths = sorted(names)
    return {frozenset((a, b)) for i, a in enumerate(paths) for b in paths[i + 1 :] if same(names[a], names[b])}


def part_dedupe() -> None:
    kinds = {variant: kind for variant, kind, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        names = {str(path.resolve()): (source, variant) for path, source, variant in write_set(Path(tmp) / "set")}
        near = _truth(names, lambda a, b: a[0] == b[0] and kinds[a[1]] == kinds[b[1]] == "near")
        scene = _truth(names, lambda a, b: a[0] == b[0] or {a[0], b[0]} == {"motorcycle_left", "motorcycle_right"})
        # two quadrants of one photo (other people at the same party, other stars of the same field) are neither a
        # true nor a false same-scene pair: left out of the scene precision
        neither = _truth(names, lambda a, b: a[0] != b[0] and _photo_of(a[0]) == _photo_of(b[0])) - scene
        print(f"\n## Dedupe: {len(names)} files; true pairs: near {len(near)} (whole-picture variants of one source:")
        print(f"original, jpeg15, colour, small, large), scene {len(scene)} (any two variants of one source, and the")
        print("stereo pair); precision and recall over pairs of files put in one group\n")
        print("| model | level | threshold | groups | pairs found | precision | recall |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for model in ("efficientnet_lite0-embed", "mobilenet_v2-embed"):
            index = Path(tmp) / model
            _index(Path(tmp) / "set", index, model)
            default = get_spec(model).config.same_scene
            runs = [("near", "hash_distance", d) for d in (4, 6, 8, 10)]
            runs += [("scene", "similarity", round(default + step, 2)) for step in (-0.1, -0.05, 0, 0.05)]
            for level, setting, value in runs:
                groups = optik.dedupe(index=index, level=level, **{setting: value})
                found = _pairs(groups, names)
                truth, judged = (near, found) if level == "near" else (scene, found - neither)
                precision = len(found & truth) / max(1, len(judged))
                recall = len(found & truth) / max(1, len(truth))
                is_default = value == (DedupeSettings.hash_distance if level == "near" else default)
                threshold = (
                    f"{'hash ≤' if level == 'near' else 'cosine ≥'} {value:g}{' (default)' if is_default else ''}"
                )
                counts = f"{len(groups)} | {len(found)} | {precision:.3f} | {recall:.3f}"
                print(f"| {model} | {level} | {threshold} | {counts} |")


def _index(images: Path, index: Path, model: str) -> None:
    """``optik embed IMAGES -o INDEX -m MODEL``, through the library."""
    from optik import pipeline
    from optik.io.embedding_index import IndexUpdate
    from optik.io.inputs import discover
    from optik.tasks import create_task
    from optik.tasks.settings import EmbedSettings

    embedder = create_task("embed", EmbedSettings(), model, "cpu")
    update = IndexUpdate(index, model, embedder.model.weights_sha256, lambda _, result: result.index_rows(), False)
    for outcome in pipeline.run(embedder, update.plan(discover([str(images)])), deliver=update):
        assert outcome.error is None, outcome.error
    update.close()


def _face_variants(rgb: np.ndarray) -> dict[str, np.ndarray]:
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    return {
        "mirror": np.ascontiguousarray(rgb[:, ::-1]),
        "half": cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "jpeg30": cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB),
        "brighter": np.clip(rgb.astype(np.int16) + 40, 0, 255).astype(np.uint8),
    }


def part_faces() -> None:
    photos = {"astronaut": sources()["astronaut"]}
    demo = upstream.FACE_API.unpacked_dir() / "package" / "demo"
    for k in range(1, 7):
        photo = cv2.cvtColor(cv2.imread(str(demo / f"sample{k}.jpg")), cv2.COLOR_BGR2RGB)
        photos[f"party{k}"] = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    originals = optik.faces(list(photos.values()), device="cpu")
    people = {
        f"{name}/{i}": face
        for (name, _), result in zip(photos.items(), originals, strict=True)
        for i, face in enumerate(result.faces)
    }
    print(f"\n## Faces: {len(people)} faces (MTCNN score ≥ 0.95) in 7 photos, presumably {len(people)} people,")
    print("one photo each; every photo also mirrored, halved, JPEG q30 and brightened\n")
    descriptors = np.stack([face.descriptor for face in people.values()])
    gallery = FaceGallery(optik.list_models("faces")[0].name, tuple(people), descriptors)
    same, correct, unknown, total = [], 0, 0, 0
    for variant in ("mirror", "half", "jpeg30", "brighter"):
        changed = [_face_variants(rgb)[variant] for rgb in photos.values()]
        for (name, _), result in zip(photos.items(), optik.faces(changed, db=gallery, device="cpu"), strict=True):
            for face in result.faces:
                nearest = min(people, key=lambda key: np.linalg.norm(people[key].descriptor - face.descriptor))
                if not nearest.startswith(name + "/"):
                    continue  # only faces found again in their own photo count
                total += 1
                same.append(float(np.linalg.norm(people[nearest].descriptor - face.descriptor)))
                correct += face.name == nearest
                unknown += face.name == "unknown"
    distances = np.linalg.norm(descriptors[:, None] - descriptors[None], axis=2)[np.triu_indices(len(people), 1)]
    print("| pairs | count | distance min | mean | max | within 0.6 |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| same face, transformed | {len(same)} | {min(same):.3f} | {np.mean(same):.3f} | {max(same):.3f} | "
        f"{np.mean(np.array(same) < 0.6):.3f} |"
    )
    print(
        f"| different people | {len(distances)} | {distances.min():.3f} | {distances.mean():.3f} | "
        f"{distances.max():.3f} | {np.mean(distances < 0.6):.3f} |"
    )
    print(
        f"\nidentify (the originals enrolled, the transformed photos identified, threshold 0.6): {correct}/{total} "
        f"named correctly, {unknown} unknown, {total - correct - unknown} wrong"
    )
    labels = optik.cluster_faces([photos[n] for n in photos], threshold=0.5, device="cpu")
    print(f"cluster (the 7 original photos, threshold 0.5): {len(labels)} clusters for {len(people)} faces")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("retrieval", "dedupe", "faces"), action="append")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# bench/retrieval.py, torch {torch.__version__}, 1 thread, {time.strftime('%Y-%m-%d')}\n")
    for part in args.part or ("retrieval", "dedupe", "faces"):
        {"retrieval": part_retrieval, "dedupe": part_dedupe, "faces": part_faces}[part]()


if __name__ == "__main__":
    main()
