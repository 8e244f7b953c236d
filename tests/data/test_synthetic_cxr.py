import pytest
import torch

from sslcore.data import load_dataset
from sslcore.data import synthetic_cxr
from sslcore.data.synthetic_cxr import CLASS_NAMES, make_synthetic_cxr


@pytest.mark.parametrize("size", [28, 64, 128])
def test_shapes_labels_and_splits(size):
    ds = make_synthetic_cxr(n_images=60, image_size=size, seed=0)
    assert ds.synthetic and "synthetic" in ds.description.lower() and ds.name == "synthetic"
    assert ds.label_names == CLASS_NAMES and ds.channels == 1 and ds.image_size == size
    assert sum(len(s) for s in ds.splits.values()) == 60
    patients = [set(s.patient_ids.tolist()) for s in ds.splits.values()]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    for split in ds.splits.values():
        assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
        assert split.images.shape[1:] == (1, size, size)


def test_deterministic_and_seed_dependent():
    a = make_synthetic_cxr(40, 28, seed=1).splits["train"]
    b = make_synthetic_cxr(40, 28, seed=1).splits["train"]
    c = make_synthetic_cxr(40, 28, seed=2).splits["train"]
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape != c.images.shape or not torch.equal(a.images, c.images)


def test_views_of_a_patient_share_label_and_differ():
    split = make_synthetic_cxr(200, 28, seed=0).splits["train"]
    ids, counts = split.patient_ids.unique(return_counts=True)
    assert counts.max() > 1 and counts.max() <= 4
    pid = ids[counts.argmax()]
    views = split.images[split.patient_ids == pid]
    assert split.labels[split.patient_ids == pid].unique().numel() == 1
    assert not torch.equal(views[0], views[1])


def test_anatomy_dark_lungs_bright_mediastinum():
    images = make_synthetic_cxr(100, 64, seed=0).splits["train"].images.float()
    mean = images.mean(0)[0]  # (64, 64)
    lungs = (mean[20:35, 12:20].mean() + mean[20:35, 44:52].mean()) / 2
    mediastinum = mean[20:35, 30:34].mean()
    outside = mean[:, :2].mean()
    assert lungs + 30 < mediastinum and outside < lungs


def test_cardiomegaly_has_a_wider_heart():
    ds = make_synthetic_cxr(400, 64, seed=0).splits["train"]
    mean = {c: ds.images[ds.labels == c].float().mean(0)[0] for c in (0, 4)}
    # The enlarged heart covers the lower lung fields beside it, which become brighter.
    lower_right_lung = slice(36, 42), slice(44, 52)
    assert mean[4][lower_right_lung].mean() > mean[0][lower_right_lung].mean() + 20


def test_validation_errors():
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_cxr(100, 32)
    with pytest.raises(ValueError, match="n_images"):
        make_synthetic_cxr(5, 28)
    with pytest.raises(ValueError, match="unknown option"):
        load_dataset("synthetic", n_views=3)


def test_load_dataset_synthetic_options():
    ds = load_dataset("synthetic", image_size=28, seed=3, n_images=50)
    assert sum(len(s) for s in ds.splits.values()) == 50


@pytest.mark.parametrize("image_size", [28, 128])
def test_images_do_not_depend_on_how_many_are_drawn_per_pass(monkeypatch, image_size):
    default = make_synthetic_cxr(n_images=40, image_size=image_size, seed=3)
    monkeypatch.setattr(synthetic_cxr, "_PIXELS_PER_PASS", 1)  # one image per pass
    one_by_one = make_synthetic_cxr(n_images=40, image_size=image_size, seed=3)
    for name, split in default.splits.items():
        assert torch.equal(split.images, one_by_one.splits[name].images)
