import numpy as np
import pytest
import torch

from sslcore.data import load_dataset
from sslcore.data import synthetic_cxr
from sslcore.data.synthetic_cxr import CLASS_NAMES, DEFAULT_IMAGE_SIZE, IMAGE_SIZES, film, make_synthetic_cxr, sample_parameters

# What switches each finding off while keeping the patient's anatomy: a normal-sized heart for cardiomegaly.
NO_FINDING = {
    "consolidation": {"consolidation": 0.0},
    "nodule": {"nodule": 0.0},
    "pleural effusion": {"effusion": 0.0},
    "cardiomegaly": {"ctr": 0.44, "heart_aspect": 1.45},
}
VIEW_KEYS = ("ap", "heart_magnification", "inspiration", "rotation", "angle", "shift_x", "shift_y", "zoom",
             "exposure", "gamma", "noise_std")


def parameters(n: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return sample_parameters(n, torch.Generator().manual_seed(seed))


def replaced(params: dict[str, torch.Tensor], values: dict[str, float]) -> dict[str, torch.Tensor]:
    return {**params, **{name: torch.full_like(params[name], value) for name, value in values.items()}}


def image_statistics(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Simple per-image statistics of uint8 (N, 1, H, W) images, each float (N,)."""
    x = images[:, 0].float() / 255
    h, w = x.shape[1:]
    stats = {"mean": x.mean((1, 2)), "std": x.flatten(1).std(1),
             "dark fraction": (x < 0.25).float().mean((1, 2)), "bright fraction": (x > 0.75).float().mean((1, 2))}
    for q in (0.1, 0.5, 0.9):
        stats[f"percentile {q:.0%}"] = x.flatten(1).quantile(q, dim=1)
    halves = {"top": x[:, :h // 2], "bottom": x[:, h // 2:], "left": x[:, :, :w // 2], "right": x[:, :, w // 2:]}
    stats.update({f"{name} half": part.mean((1, 2)) for name, part in halves.items()})
    stats["left-right difference"] = (stats["left half"] - stats["right half"]).abs()
    stats["bottom-top difference"] = stats["bottom half"] - stats["top half"]
    for parts in (2, 3):  # quadrants and the cells of a 3 x 3 grid
        for i in range(parts):
            for j in range(parts):
                cell = x[:, i * h // parts:(i + 1) * h // parts, j * w // parts:(j + 1) * w // parts]
                stats[f"cell {i},{j} of {parts}x{parts}"] = cell.mean((1, 2))
    return stats


def best_interval_balanced_accuracy(values: np.ndarray, positive: np.ndarray) -> float:
    """The best balanced accuracy of calling a class when one statistic lies inside (or outside) an
    interval: the strongest one-statistic threshold classifier, fitted on the very images it scores.

    Balanced accuracy is (TPR + TNR) / 2 = 0.5 + (TPR - FPR) / 2; over the values in sorted order each
    positive adds 1/P to TPR - FPR and each negative subtracts 1/N, so the best interval is the
    maximum-sum run of those steps (or, for "outside", of their negatives).
    """
    steps = np.where(positive[np.argsort(values, kind="stable")], 1 / positive.sum(), -1 / (~positive).sum())
    best = 0.0
    for signed in (steps, -steps):
        running = np.concatenate([[0.0], np.cumsum(signed)])
        best = max(best, float(np.max(running - np.minimum.accumulate(running))))
    return 0.5 + best / 2


def test_best_interval_matches_brute_force():
    rng = np.random.default_rng(0)
    values, positive = rng.normal(size=40), rng.random(40) < 0.3
    positive[:2] = True, False
    brute = 0.5
    cuts = np.concatenate([[-np.inf], np.sort(values)])
    for low in cuts:
        for high in cuts[cuts >= low]:
            inside = (values > low) & (values <= high)
            for called in (inside, ~inside):
                brute = max(brute, (called[positive].mean() + (~called[~positive]).mean()) / 2)
    assert best_interval_balanced_accuracy(values, positive) == pytest.approx(brute)


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_shapes_labels_and_splits(size):
    ds = make_synthetic_cxr(n_images=60, image_size=size, seed=0)
    assert ds.synthetic and "synthetic" in ds.description.lower() and ds.name == "synthetic"
    assert "CC0" in ds.licence and "synthetic" in ds.licence
    assert ds.label_names == CLASS_NAMES and ds.channels == 1 and ds.image_size == size
    assert sum(len(s) for s in ds.splits.values()) == 60
    patients = [set(s.patient_ids.tolist()) for s in ds.splits.values()]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    for split in ds.splits.values():
        assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
        assert split.images.shape[1:] == (1, size, size)


def test_split_by_patient_70_15_15():
    ds = make_synthetic_cxr(n_images=2000, image_size=28, seed=0)
    patients = {name: split.patient_ids.unique().numel() for name, split in ds.splits.items()}
    total = sum(patients.values())
    assert patients["train"] / total == pytest.approx(0.7, abs=0.01)
    assert patients["val"] / total == pytest.approx(0.15, abs=0.01)


def test_deterministic_and_seed_dependent():
    a = make_synthetic_cxr(40, 28, seed=1).splits["train"]
    b = make_synthetic_cxr(40, 28, seed=1).splits["train"]
    c = make_synthetic_cxr(40, 28, seed=2).splits["train"]
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape != c.images.shape or not torch.equal(a.images, c.images)


def test_same_patients_and_labels_at_every_size():
    small, large = make_synthetic_cxr(80, 28, seed=4), make_synthetic_cxr(80, 128, seed=4)
    for name in ("train", "val", "test"):
        assert torch.equal(small.splits[name].labels, large.splits[name].labels)
        assert torch.equal(small.splits[name].patient_ids, large.splits[name].patient_ids)


def test_every_class_is_drawn():
    labels = make_synthetic_cxr(500, 28, seed=0).splits["train"].labels
    assert labels.bincount(minlength=5).min() > 40


@pytest.mark.parametrize("size", sorted({28, DEFAULT_IMAGE_SIZE}))
def test_every_finding_is_visible(size):
    """Each finding changes its image against the same patient and view drawn without it: by at least
    0.15 of the grey range (about four times the strongest detector noise, 0.04) on at least 2 pixels."""
    params, _ = parameters(600)
    with_findings = film(params, size)
    for name, switch_off in NO_FINDING.items():
        members = params["label"] == CLASS_NAMES.index(name)
        difference = (with_findings - film(replaced(params, switch_off), size)).abs().flatten(1)
        visible = (difference > 0.15).sum(1)
        assert members.sum() > 80
        assert visible[members].min() >= 2, name
        if name != "cardiomegaly":  # the other findings are drawn for their own class only
            assert difference[~members].max() == 0, name


def test_nodule_and_effusion_lie_on_the_drawn_side():
    params, _ = parameters(400)
    params = replaced(params, {"angle": 0.0, "shift_x": 0.0, "rotation": 0.0, "effusion_bilateral": 0.0})
    for name in ("nodule", "pleural effusion"):
        members = params["label"] == CLASS_NAMES.index(name)
        difference = (film(params, 64) - film(replaced(params, NO_FINDING[name]), 64))[:, 0, :, :]  # (N, 64, 64)
        right_share = difference[:, :, 32:].sum((1, 2)) / difference.sum((1, 2)).clamp(min=1e-9)
        on_right = params["finding_side"] > 0
        assert (right_share[members & on_right] > 0.9).all() and (right_share[members & ~on_right] < 0.1).all()


def test_no_single_image_statistic_gives_the_class_away():
    """For every class, every simple statistic and its best interval, the one-statistic classifier's
    balanced accuracy (class against the rest, fitted on the very images it scores) stays at or below 0.70.

    Why 0.70: scored the same way on validation images (the best interval on a model's probability
    for the class), a linear probe on the cpu-quick SimCLR small CNN at 32 px reached 0.85 to 0.97
    per class and a supervised small CNN 0.96 to 0.99, while shuffled labels reach 0.55 to 0.56 here
    (the best of many intervals and statistics on 400 images per class). The strongest statistic
    measured when this test was written, the bottom-top brightness difference for consolidation,
    reached 0.66: well below every trained model's weakest class.
    """
    ds = make_synthetic_cxr(2000, DEFAULT_IMAGE_SIZE, seed=11)
    images = torch.cat([split.images for split in ds.splits.values()])
    labels = torch.cat([split.labels for split in ds.splits.values()]).numpy()
    worst = max(
        (best_interval_balanced_accuracy(values.numpy(), labels == c), name, CLASS_NAMES[c])
        for name, values in image_statistics(images).items() for c in range(len(CLASS_NAMES))
    )
    assert worst[0] <= 0.70, worst


def test_cardiothoracic_ratios_overlap_between_normal_and_cardiomegaly():
    params, _ = parameters(4000)
    ctr = params["ctr"]
    enlarged = params["label"] == CLASS_NAMES.index("cardiomegaly")
    assert ctr[enlarged].min() < 0.5 < ctr[~enlarged].max()
    # Borderline hearts on both sides of 0.5, and AP films make some normal hearts look enlarged.
    assert 0.05 < (ctr[enlarged] < 0.5).float().mean() < 0.2
    apparent = ctr * params["heart_magnification"]
    assert (apparent[~enlarged] > 0.5).float().mean() > (ctr[~enlarged] > 0.5).float().mean() + 0.05


def test_views_of_a_patient_share_anatomy_and_differ_in_acquisition():
    params, patient_of_image = parameters(300)
    patient_keys = [name for name in params if name not in VIEW_KEYS]
    ids, counts = patient_of_image.unique(return_counts=True)
    assert counts.max() == 4 and counts.min() >= 1
    for pid in ids[counts > 1][:20]:
        views = (patient_of_image == pid).nonzero()[:, 0]
        for name in patient_keys:  # the same anatomy and finding
            assert (params[name][views] == params[name][views[0]]).all(), name
        for name in ("zoom", "exposure", "inspiration", "rotation", "angle", "noise_std"):  # new acquisitions
            assert params[name][views].unique().numel() == len(views), name
    # Drawn with the first view's acquisition, a second view is the first image again.
    first, second = [(patient_of_image == ids[counts > 1][0]).nonzero()[i, 0].item() for i in (0, 1)]
    pair = {name: value[[first, second]] for name, value in params.items()}
    films = film(pair, 64)
    assert not torch.equal(films[0], films[1])
    same = film({**pair, **{name: pair[name][[0, 0]] for name in VIEW_KEYS}}, 64)
    assert torch.allclose(same[0], same[1], atol=1e-6)


def test_ap_films_magnify_the_heart_and_some_views_are_ap():
    params, _ = parameters(200)
    assert 0.2 < params["ap"].mean() < 0.5
    assert (params["heart_magnification"][params["ap"] == 0] == 1).all()
    assert (params["heart_magnification"][params["ap"] == 1] > 1.05).all()
    pa = replaced(params, {"ap": 0.0, "heart_magnification": 1.0})
    ap = replaced(params, {"ap": 0.0, "heart_magnification": 1.15})  # the heart alone, no scapulae or clavicles
    heart_band = slice(36, 50)  # rows across the heart, at 64 px
    brighter = film(ap, 64)[:, 0, heart_band].mean((1, 2)) - film(pa, 64)[:, 0, heart_band].mean((1, 2))
    assert (brighter > 0).all()


def test_anatomy_dark_lungs_bright_mediastinum():
    images = make_synthetic_cxr(200, 64, seed=0).splits["train"].images.float()
    mean = images.mean(0)[0]  # (64, 64)
    lungs = (mean[16:30, 16:24].mean() + mean[16:30, 42:50].mean()) / 2
    mediastinum = mean[16:30, 30:34].mean()
    beside_the_neck = (mean[:4, :4].mean() + mean[:4, -4:].mean()) / 2
    abdomen = mean[58:, 24:40].mean()
    assert lungs + 80 < mediastinum and beside_the_neck + 20 < lungs and lungs + 80 < abdomen


def test_cardiomegaly_has_a_wider_heart():
    ds = make_synthetic_cxr(600, 64, seed=0).splits["train"]
    mean = {c: ds.images[ds.labels == c].float().mean(0)[0] for c in (0, 4)}
    # The enlarged heart covers the lower lung field to its left (image right), which becomes brighter.
    beside_heart = slice(36, 46), slice(42, 50)
    assert mean[4][beside_heart].mean() > mean[0][beside_heart].mean() + 15


def test_validation_errors():
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_cxr(100, 30)
    with pytest.raises(ValueError, match="n_images"):
        make_synthetic_cxr(5, 28)
    with pytest.raises(ValueError, match="n_images"):
        make_synthetic_cxr(True, 28)
    with pytest.raises(ValueError, match="unknown option"):
        load_dataset("synthetic", n_views=3)


def test_load_dataset_synthetic_options_and_default_size():
    ds = load_dataset("synthetic", seed=3, n_images=50)
    assert sum(len(s) for s in ds.splits.values()) == 50 and ds.image_size == DEFAULT_IMAGE_SIZE


@pytest.mark.parametrize("image_size", [28, 128])
def test_images_do_not_depend_on_how_many_are_drawn_per_pass(monkeypatch, image_size):
    default = make_synthetic_cxr(n_images=40, image_size=image_size, seed=3)
    monkeypatch.setattr(synthetic_cxr, "_PIXELS_PER_PASS", 1)  # one image per pass
    one_by_one = make_synthetic_cxr(n_images=40, image_size=image_size, seed=3)
    for name, split in default.splits.items():
        assert torch.equal(split.images, one_by_one.splits[name].images)
