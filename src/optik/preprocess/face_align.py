"""Face chips for dlib's face descriptor: 150x150, the face placed as ``dlib.get_face_chip_details`` does.

dlib aligns a face by fitting a similarity transform (rotation, uniform scale, translation; least
squares, Umeyama) from fixed positions in a unit face square to the detected landmarks, widening
the square by ``padding`` (0.25 of its side on each side for the descriptor), and sampling the chip
bilinearly. This module does the same with OpenCV: :func:`chip_transform` reproduces dlib's
geometry, including its pixel convention (chip pixels 0 and size-1 land on the ends of a window of
``size * scale - 1`` image pixels centred on the face, see dlib's ``centered_drect``), and
:func:`extract_chip` samples with ``cv2.warpAffine`` (bilinear). When the window is more than twice
the chip's size the image is first halved with ``cv2.pyrDown`` (dlib halves it with its own
``pyramid_down<2>``) so that the chip is not aliased.

The unit-square positions depend on which landmarks are given:

- :data:`DLIB_5_POINT_TEMPLATE`: dlib's own 5-point model (outer and inner eye corners of both eyes,
  the base of the nose), the constants of ``get_face_chip_details``.
- :data:`MTCNN_TEMPLATE` (the default): optik's detector, MTCNN, gives different points: the centres
  of the eyes, the tip of the nose and the mouth corners. Their positions come from the same source
  dlib's 5-point constants were cut from, dlib's mean face (the 68-point branch of
  ``get_face_chip_details``; iBUG numbering): each eye centre is the mean of its six contour points
  (36-41, 42-47), the nose tip is point 30, the mouth corners points 48 and 54. Deriving them from
  the mean face (rather than, say, the ArcFace 112x112 template) keeps the chip in dlib's frame:
  dlib's 5-point template agrees with the same mean face to within 0.003 of the square's side, so
  both templates place a face where the network was trained to see it. What remains is the
  difference between the detectors' landmark definitions and errors (MTCNN's "nose tip" and eye
  centres are not iBUG's annotations).

Measured (tests/test_face_fidelity.py): with dlib's own landmarks and template the chips differ
from ``dlib.get_face_chip``'s by at most 0.27 grey levels on average and their descriptors are
within 0.005 of dlib's (through the pyramid, a face 3x larger: 0.61 and 0.014). With MTCNN's
landmarks and :data:`MTCNN_TEMPLATE`, on 21 faces (the astronaut, its mirror image, 19 faces of
face-api's demo photos), the descriptor has cosine 0.979-0.998 (mean 0.993) and euclidean distance
0.09-0.30 (mean 0.17) to dlib's descriptor of the same face: the same person by dlib's 0.6 rule,
and nearest to its own face among all of them. Variants tried on the same faces (fitting the eyes
and nose only; a template of MTCNN's mean positions in dlib's chips, leave-one-out) moved the mean
distance by less than 0.02, so the mean-face template stays.
"""

from __future__ import annotations

import cv2
import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# dlib's 5-point constants, in the order of its shape_predictor_5_face_landmarks parts (left/right as seen)
DLIB_5_POINT_TEMPLATE = np.array(
    [
        (0.8595674595992, 0.2134981538014),  # outer corner of the eye on the right
        (0.6460604764104, 0.2289674387677),  # its inner corner
        (0.1205750620789, 0.2137274526848),  # outer corner of the eye on the left
        (0.3340850613712, 0.2290642403242),  # its inner corner
        (0.4901123135679, 0.6277975316475),  # base of the nose
    ]
)
# dlib's mean face (get_face_chip_details, 68-point branch), the points MTCNN's landmarks correspond to
_EYE_LEFT_OF_IMAGE = [  # iBUG 36-41
    (0.121737, 0.216423),
    (0.187122, 0.178758),
    (0.265825, 0.179852),
    (0.334606, 0.231733),
    (0.260918, 0.245099),
    (0.182743, 0.244077),
]
_EYE_RIGHT_OF_IMAGE = [  # iBUG 42-47
    (0.645647, 0.231733),
    (0.714428, 0.179852),
    (0.793132, 0.178758),
    (0.858516, 0.216423),
    (0.79751, 0.244077),
    (0.719335, 0.245099),
]
_NOSE_TIP = (0.490127, 0.515625)  # iBUG 30
_MOUTH_LEFT_OF_IMAGE = (0.254149, 0.780233)  # iBUG 48
_MOUTH_RIGHT_OF_IMAGE = (0.726104, 0.780233)  # iBUG 54
# in MTCNN's order: left eye, right eye, nose, mouth left, mouth right (left/right as seen in the image)
MTCNN_TEMPLATE = np.array(
    [
        np.mean(_EYE_LEFT_OF_IMAGE, axis=0),
        np.mean(_EYE_RIGHT_OF_IMAGE, axis=0),
        _NOSE_TIP,
        _MOUTH_LEFT_OF_IMAGE,
        _MOUTH_RIGHT_OF_IMAGE,
    ]
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (no reflection) mapping ``source`` [N,2] onto ``target`` [N,2] in the least
    squares sense (Umeyama 1991, as dlib's ``find_similarity_transform``)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    src, dst = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(dst.T @ src / len(source))
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / src.var(0).sum()
    matrix = scale * rotation
    return np.hstack([matrix, (target_mean - matrix @ source_mean)[:, None]])


def chip_transform(
    landmarks: np.ndarray, template: np.ndarray = MTCNN_TEMPLATE, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> np.ndarray:
    """The 2x3 affine from chip pixels to image pixels that dlib's ``extract_image_chip`` uses for
    ``get_face_chip_details(landmarks, size, padding)``, with ``template`` in the unit face square."""
    chip_points = (padding + np.asarray(template, np.float64)) / (2 * padding + 1) * size
    fitted = similarity_transform(chip_points, landmarks)  # chip units → image
    scale_cos, scale_sin = fitted[0, 0], fitted[1, 0]
    scale, angle = np.hypot(scale_cos, scale_sin), np.arctan2(scale_sin, scale_cos)
    centre = fitted @ np.array([size / 2, size / 2, 1.0])
    step = (size * scale - 1) / (size - 1)  # dlib's window spans size*scale - 1 pixels over size - 1 steps
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * step
    return np.hstack([rotation, (centre - rotation @ np.full(2, (size - 1) / 2))[:, None]])


def extract_chip(image: np.ndarray, chip_to_image: np.ndarray, size: int = CHIP_SIZE) -> np.ndarray:
    """Sample the ``size`` x ``size`` chip of an RGB uint8 ``image`` whose pixels map into the image by
    ``chip_to_image`` (2x3): bilinear, zeros outside the image, values truncated as dlib does; the
    image halved first for each factor 2 the chip would skip. Only the chip's footprint is processed."""
    transform = np.asarray(chip_to_image, np.float64).copy()
    step = np.hypot(transform[0, 0], transform[1, 0])
    levels = 0
    while step / 2**levels > 2:  # dlib: while the window halved is still larger than the chip
        levels += 1
    # dlib's pyramid_down<2> centres level pixel q on input pixel 2q + 2 but maps points as p/2 - (1.25, 0.75),
    # so its chips sample (-0.5, +0.5) input pixels off per level; the same offset keeps our chips on dlib's
    transform[:, 2] += (2**levels - 1) * np.array([-0.5, 0.5])
    corners = transform @ np.array([[0, size - 1, 0, size - 1], [0, 0, size - 1, size - 1], [1, 1, 1, 1]])
    reach = 2 + 4 * 2**levels  # of the bilinear and pyramid filters, in image pixels
    left, top = np.maximum(np.floor(corners.min(axis=1)).astype(int) - reach, 0)
    right, bottom = np.minimum(np.ceil(corners.max(axis=1)).astype(int) + reach, (image.shape[1], image.shape[0]))
    if right <= left or bottom <= top:
        return np.zeros((size, size, *image.shape[2:]), np.uint8)
    region = image[top:bottom, left:right]
    transform[:, 2] -= (left, top)
    for _ in range(levels):
        region = cv2.pyrDown(region)  # the same 5-tap [1 4 6 4 1] filter; output pixel i is centred on input 2i
        transform /= 2
    chip = cv2.warpAffine(
        region.astype(np.float32),
        transform,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.floor(chip).astype(np.uint8)  # dlib converts interpolated values to uint8 by truncation


def face_chip(
    image: np.ndarray,
    landmarks: np.ndarray,
    template: np.ndarray = MTCNN_TEMPLATE,
    size: int = CHIP_SIZE,
    padding: float = CHIP_PADDING,
) -> np.ndarray:
    """The aligned ``size`` x ``size`` chip of the face with ``landmarks`` [5,2] (image pixels, in the
    template's order; default MTCNN's: left eye, right eye, nose, mouth left, mouth right)."""
    return extract_chip(image, chip_transform(landmarks, template, size, padding), size)
