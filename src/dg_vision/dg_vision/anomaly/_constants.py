"""Constants shared by the backbone export (torch) and PatchCore scoring (no torch).

Kept here, torch-free, so that both import one definition: the ONNX graph made by
:mod:`~dg_vision.anomaly.backbone` and the model that scores with it must agree on them.
"""

#: The backbone (stored in the model file; another one is refused at load).
BACKBONE_NAME = "efficientnet_lite0"
#: Input normalisation of the TF EfficientNet-Lite checkpoints: (rgb - 127) / 128.
MEAN_RGB = (127.0, 127.0, 127.0)
STD_RGB = (128.0, 128.0, 128.0)
#: Feature stages of the backbone used by default (stage 2: stride 4, stage 3: stride 8).
DEFAULT_STAGES = (2, 3)
#: Output stride of the patch-feature grid (px).
FEATURE_STRIDE = 8
#: Mirrored border around the input before the backbone (px; a multiple of 32 and of the
#: stride): without it the zero padding makes border patches unlike any others.
FEATURE_PAD = 32
#: The extractor's last channels: the local mean of the normalised RGB.
COLOUR_CHANNELS = 3
