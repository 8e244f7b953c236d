import json

import pytest

from sslcore.training.config import PretrainConfig


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": -1}, "epochs must be 0 (no pretraining) or more"),
        ({"lr": -1.0}, "lr must be positive"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"device": "tpu"}, "device must be one of"),
        ({"augment_strength": 3.0}, "augment_strength must be between 0 and 2"),
        ({"max_train_images": 10, "batch_size": 64}, "max_train_images (10) must be at least batch_size"),
    ],
)
def test_invalid_values_are_rejected_with_the_reason(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PretrainConfig(**values)


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match="unknown config keys: learning_rate"):
        PretrainConfig.from_dict({"learning_rate": 0.1})


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_then_load_gives_the_same_config(tmp_path, suffix):
    config = PretrainConfig(method="byol", epochs=3, lr=0.01, method_params={"momentum": 0.99})
    path = config.save(tmp_path / f"run{suffix}")
    assert PretrainConfig.load(path) == config


def test_a_broken_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json is not valid json"):
        PretrainConfig.load(path)
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="must hold a mapping"):
        PretrainConfig.load(path)
    with pytest.raises(FileNotFoundError, match="config file not found"):
        PretrainConfig.load(tmp_path / "missing.yaml")
