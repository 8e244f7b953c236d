"""The training loop on a tiny synthetic set: reproducibility, resume, cancel, NaN and collapse."""

import math

import pytest
import torch

from sslcore.data import load_dataset
from sslcore.training import PretrainConfig, TrainingError, build_model, lr_at, pretrain


@pytest.fixture(scope="module")
def tiny_dataset():
    return load_dataset("synthetic", image_size=28, seed=0, n_images=240)


def tiny_config(**overrides) -> PretrainConfig:
    values = dict(dataset="synthetic", method="simclr", backbone="small_cnn", image_size=28, epochs=2,
                  batch_size=32, lr=1e-3, seed=0, device="cpu", knn_monitor=True)
    values.update(overrides)
    return PretrainConfig(**values)


def losses(result) -> list[float]:
    return [row["loss"] for row in result.history if "loss" in row]


def test_warmup_then_cosine_schedule():
    schedule = [lr_at(step, 100, 10, 1.0) for step in range(100)]
    assert schedule[0] == pytest.approx(0.1)
    assert schedule[9] == pytest.approx(1.0)
    assert max(schedule) == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(schedule[10:], schedule[11:]))
    assert lr_at(100, 100, 10, 1.0) == pytest.approx(0.0)


def test_same_seed_same_run_on_cpu(tiny_dataset):
    first = pretrain(tiny_config(epochs=1), dataset=tiny_dataset)
    second = pretrain(tiny_config(epochs=1), dataset=tiny_dataset)
    assert losses(first) == losses(second)
    assert all(math.isfinite(value) for value in losses(first))
    other_seed = pretrain(tiny_config(epochs=1, seed=1), dataset=tiny_dataset)
    assert losses(other_seed) != losses(first)


def test_progress_reports_steps_and_epoch_knn(tiny_dataset):
    reports = []
    result = pretrain(tiny_config(), dataset=tiny_dataset, on_progress=reports.append)
    steps_per_epoch = len(tiny_dataset.splits["train"].images) // 32
    step_reports = [r for r in reports if r.knn_accuracy is None]
    epoch_reports = [r for r in reports if r.knn_accuracy is not None]
    assert [r.step for r in step_reports] == list(range(1, 2 * steps_per_epoch + 1))
    assert step_reports[-1].eta_seconds == pytest.approx(0.0)
    assert all(r.images_per_second > 0 for r in reports if r.epoch > 0)
    assert [r.epoch for r in epoch_reports] == [0, 1, 2]  # epoch 0: the network before any step
    assert all(0.0 <= r.knn_accuracy <= 1.0 for r in epoch_reports)
    assert not result.stopped_early


def test_resume_continues_exactly_where_the_checkpoint_stopped(tiny_dataset, tmp_path):
    straight = pretrain(tiny_config(epochs=2), dataset=tiny_dataset)
    # A 2-epoch run cancelled during epoch 2 keeps the checkpoint written after epoch 1.
    cut = tmp_path / "checkpoint.pt"
    calls = {"n": 0}

    def stop_in_epoch_two():
        calls["n"] += 1
        return calls["n"] > len(tiny_dataset.splits["train"].images) // 32

    first_half = pretrain(tiny_config(epochs=2), dataset=tiny_dataset, checkpoint_path=cut,
                          should_stop=stop_in_epoch_two)
    assert first_half.stopped_early
    resumed = pretrain(tiny_config(epochs=2), dataset=tiny_dataset, checkpoint_path=cut, resume=True)
    assert losses(resumed) == pytest.approx(losses(straight))
    for a, b in zip(resumed.method.state_dict().values(), straight.method.state_dict().values()):
        assert torch.equal(a, b)


def test_cancel_stops_between_steps(tiny_dataset):
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] > 3

    result = pretrain(tiny_config(), dataset=tiny_dataset, should_stop=stop_after_three)
    assert result.stopped_early
    assert len(losses(result)) == 3


def built(config, dataset):
    return build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task)


def test_a_nan_loss_stops_the_run_with_a_clear_message(tiny_dataset):
    config = tiny_config()
    method = built(config, tiny_dataset)
    step = method.training_step
    method.training_step = lambda batch, augment_fn: step(batch, augment_fn) * float("nan")
    with pytest.raises(TrainingError, match=r"loss became nan at step 1 \(epoch 1\).*lower the learning rate"):
        pretrain(config, dataset=tiny_dataset, method=method)


def test_a_collapsed_representation_stops_the_run(tiny_dataset):
    config = tiny_config()
    method = built(config, tiny_dataset)
    forward = method.backbone.forward
    # Every image gets the same features: the failure mode the check exists for.
    method.backbone.forward = lambda x: forward(x) * 0 + 1
    with pytest.raises(TrainingError, match="representation collapsed after epoch 1"):
        pretrain(config, dataset=tiny_dataset, method=method)


@pytest.mark.parametrize("method", ["supervised", "micle", "byol"])
def test_methods_with_labels_partners_or_momentum_train(tiny_dataset, method):
    result = pretrain(tiny_config(method=method, epochs=1), dataset=tiny_dataset)
    assert all(math.isfinite(value) for value in losses(result))


def test_a_batch_larger_than_the_split_is_refused(tiny_dataset):
    with pytest.raises(ValueError, match="fewer than one batch"):
        pretrain(tiny_config(batch_size=4096), dataset=tiny_dataset)


def test_the_data_seed_fixes_the_test_set_and_the_model_seed_does_not_change_it():
    from sslcore.training import load_for_config

    options = {"dataset_options": {"n_images": 120}}
    first = load_for_config(tiny_config(seed=0, **options))
    other_model = load_for_config(tiny_config(seed=7, **options))
    other_data = load_for_config(tiny_config(seed=0, data_seed=1, **options))
    assert first.test_fingerprint() == other_model.test_fingerprint()
    assert first.test_fingerprint() != other_data.test_fingerprint()


def test_micle_on_data_without_patients_is_refused_with_what_to_do(tiny_dataset):
    import dataclasses

    from sslcore.data.base import Split

    train = tiny_dataset.splits["train"]
    one_image_each = Split(train.images, train.labels, torch.arange(len(train.labels)))
    dataset = dataclasses.replace(tiny_dataset, splits={**tiny_dataset.splits, "train": one_image_each})
    with pytest.raises(ValueError, match="two images of the same patient.*use SimCLR"):
        pretrain(tiny_config(method="micle", epochs=1), dataset=dataset)


def test_max_train_images_keeps_a_stratified_random_subset(tiny_dataset):
    seen = []
    method = built(tiny_config(), tiny_dataset)
    step = method.training_step
    method.training_step = lambda batch, augment_fn: seen.append(batch.images) or step(batch, augment_fn)
    pretrain(tiny_config(epochs=1, max_train_images=64, knn_monitor=False), dataset=tiny_dataset, method=method)
    train = tiny_dataset.splits["train"]
    used = torch.cat(seen)
    assert len(used) == 64
    assert not torch.equal(used.sort(0).values, train.images[:64].sort(0).values)  # not the first 64
    counts = torch.bincount(train.labels, minlength=5).double()
    kept = [int((train.images == image).flatten(1).all(1).nonzero()[0]) for image in used]
    shares = torch.bincount(train.labels[kept], minlength=5).double() / 64
    assert torch.allclose(shares, counts / counts.sum(), atol=1 / 64 + 1e-9)
