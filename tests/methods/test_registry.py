import re

import pytest
import torch

from sslcore.methods import METHODS, STRATEGIES, SSLMethod, build_method
from sslcore.models import BACKBONES, build_backbone


def test_every_method_is_described_for_the_app():
    assert set(METHODS) == {"simclr", "moco", "byol", "simsiam", "barlow_twins", "micle", "mae", "rotation",
                            "supervised"}
    for name, info in METHODS.items():
        assert info.name == name == info.method_class.name
        assert issubclass(info.method_class, SSLMethod)
        assert info.strategy in STRATEGIES
        assert 2 <= info.explanation.count(". ") + 1 <= 3, info.explanation
        assert re.fullmatch(r"\d{4}\.\d{5}(, \d{4}\.\d{5})*", info.citation.arxiv_id)
        assert str(info.citation.year) in str(info.citation) and info.citation.arxiv_id in str(info.citation)
        assert info.default_backbone in info.backbones and set(info.backbones) <= set(BACKBONES)


@pytest.mark.parametrize("name", list(METHODS))
def test_listed_hparams_are_exactly_what_build_method_accepts(name):
    info = METHODS[name]
    backbone = build_backbone(info.default_backbone, 1, 28)
    method = build_method(name, backbone, n_classes=2, task="binary", **info.hparams)
    assert isinstance(method, info.method_class) and method.backbone is backbone


def test_contrastive_methods_take_the_run_temperature():
    assert {name for name, info in METHODS.items() if "temperature" in info.hparams} == {"simclr", "micle", "moco"}
    method = build_method("simclr", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary", temperature=0.7)
    assert method.criterion.temperature == 0.7


@pytest.mark.parametrize("name, backbone, kwargs, message", [
    ("dino", "small_cnn", {}, "unknown method 'dino'; choose from simclr, moco"),
    ("simclr", "small_cnn", {"temprature": 0.1}, r"unknown hyper-parameter\(s\) for simclr: temprature "
                                                  r"\(accepted: temperature, hidden_dim, projection_dim\)"),
    ("rotation", "small_cnn", {"temperature": 0.1}, r"accepted: none"),
    ("mae", "small_cnn", {}, "mae does not support the small_cnn backbone; use vit_tiny"),
    ("simclr", "small_cnn", {"temperature": -1.0}, "temperature must be positive"),
    ("moco", "small_cnn", {"momentum": 1.5}, "momentum must be between 0 and 1"),
    ("mae", "vit_tiny", {"mask_ratio": 1.0}, "mask_ratio"),
])
def test_build_method_rejects_bad_requests(name, backbone, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_method(name, build_backbone(backbone, 1, 28), n_classes=2, task="binary", **kwargs)


def test_build_method_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="unknown task 'regression'"):
        build_method("simclr", build_backbone("small_cnn", 1, 28), n_classes=2, task="regression")


def test_mae_rejects_a_backbone_without_patches():
    from sslcore.methods.mae import MAE

    with pytest.raises(ValueError, match="mae needs the vit_tiny backbone, got resnet18"):
        MAE(build_backbone("resnet18", 1, 28))
    assert torch.is_tensor(MAE(build_backbone("vit_tiny", 1, 28)).mask_token)
