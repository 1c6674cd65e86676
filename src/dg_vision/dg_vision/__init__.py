"""DG Stack machine-vision inspection.

The algorithm core (no rclpy): ``metrology`` (2D), ``anomaly`` (PatchCore on an
EfficientNet-Lite0 backbone, ONNX Runtime), ``inspect3d`` (Open3D), ``recipe`` and ``spc``;
the ROS 2 nodes live in ``dg_vision.nodes``.
"""
