"""Comparisons as one object: initialisations, arms with the same seeds, the leaderboard, the store."""

import pytest
import torch

from sslcore.experiments.comparison import Arm, ComparisonConfig, remedis, run_comparison, unavailable_arms
from sslcore.experiments.leaderboard import leaderboard, leaderboard_table
from sslcore.models import build_backbone
from sslcore.training import initialisation
from sslcore.training.config import PretrainConfig

TINY = {"epochs": 1, "batch_size": 32, "max_train_images": None, "dataset_options": {"n_images": 240}}
SMALL_SWEEP = {"fractions": (0.1, 1.0), "seeds": (0, 1), "finetune_epochs": 1, "finetune_lrs": (1e-3,),
               "protocols": ("linear", "finetune")}


def test_imagenet_weights_are_adapted_to_one_channel_and_the_small_image_stem():
    import torchvision

    torch.manual_seed(0)
    imagenet_like = torchvision.models.resnet18(weights=None).state_dict()  # 3 channels, 7x7 stem, a classifier
    ours = build_backbone("resnet18", 1, 32)
    adapted = initialisation.adapt_imagenet_state(imagenet_like, ours)
    ours.load_state_dict(adapted, strict=True)  # every weight found its place, the classifier is gone
    grey = imagenet_like["conv1.weight"].sum(dim=1, keepdim=True)  # (64, 1, 7, 7): a grey image is R = G = B
    # The 3x3 stem: each 7x7 kernel averaged over the areas [0,3), [2,5), [4,7), times 49 / 9.
    blocks = [(0, 3), (2, 5), (4, 7)]
    expected = torch.stack([torch.stack([grey[..., r0:r1, c0:c1].mean(dim=(-2, -1)) for c0, c1 in blocks], -1)
                            for r0, r1 in blocks], -2) * 49 / 9
    torch.testing.assert_close(ours.network.conv1.weight, expected)
    torch.testing.assert_close(ours.network.layer1[0].conv1.weight, imagenet_like["layer1.0.conv1.weight"])


def test_init_file_loads_a_state_dict_or_a_checkpoint_and_refuses_what_does_not_fit(tmp_path):
    torch.manual_seed(1)
    source = build_backbone("small_cnn", 1, 32)
    torch.save(source.state_dict(), tmp_path / "weights.pt")
    from sslcore.training import build_model

    config = PretrainConfig(backbone="small_cnn", image_size=32, init=f"file:{tmp_path / 'weights.pt'}")
    method = build_model(config, channels=1, n_classes=5, task="multi-class")
    for name, value in source.state_dict().items():
        torch.testing.assert_close(method.backbone.state_dict()[name], value)
    torch.save({"model": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "run.pt")
    initialisation.initialise(build_backbone("small_cnn", 1, 32), f"file:{tmp_path / 'run.pt'}", "small_cnn")
    with pytest.raises(ValueError, match="does not fit a resnet18 backbone"):
        initialisation.initialise(build_backbone("resnet18", 1, 32), f"file:{tmp_path / 'weights.pt'}", "resnet18")
    with pytest.raises(ValueError, match="init must be one of"):
        PretrainConfig(init="imagenet21k")


def test_imagenet_offline_says_in_one_sentence_what_to_do(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache

    def offline(self, *args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(ValueError, match="connect to the internet once .* or pass init=file:PATH") as error:
        initialisation.initialise(build_backbone("resnet18", 1, 32), "imagenet", "resnet18")
    assert "\n" not in str(error.value)
    monkeypatch.setattr(initialisation, "imagenet_downloadable", lambda backbone, timeout=3.0: False)
    config = remedis("synthetic", has_patients=True)
    assert set(unavailable_arms(config)) == {"imagenet init (resnet18)", "micle from imagenet (resnet18)"}
    with pytest.raises(ValueError, match="ImageNet weights exist"):
        initialisation.initialise(build_backbone("small_cnn", 1, 32), "imagenet", "small_cnn")


def test_remedis_has_its_four_arms_with_micle_only_where_patients_have_several_images():
    names = [arm.name for arm in remedis("x.npz", has_patients=False).arms]
    assert names == ["imagenet init (resnet18)", "simclr (resnet18)", "simclr from imagenet (resnet18)"]
    config = remedis("synthetic", has_patients=True)
    assert [arm.method for arm in config.arms] == [None, "micle", "micle"]
    assert config.experiment(config.arms[0]).pretrain.epochs == 0  # ImageNet only: nothing pretrained


@pytest.fixture(scope="module")
def two_arms():
    config = ComparisonConfig(dataset="synthetic", arms=[Arm("simclr"), Arm("rotation")], overrides=TINY,
                              evaluation=SMALL_SWEEP)
    return config, run_comparison(config, on_message=lambda line: None)


def test_every_arm_runs_on_the_same_data_subsets_and_seeds_with_its_own_recipe(two_arms):
    config, results = two_arms
    experiments = [config.experiment(arm) for arm in config.arms]
    assert {e.pretrain.data_seed for e in experiments} == {0} and {e.pretrain.seed for e in experiments} == {0}
    assert [e.pretrain.method for e in experiments] == ["simclr", "rotation"]
    assert len({r.fingerprint for r in results}) == 1
    subsets = [{(p["fraction"], p["seed"], p["n_labelled"]) for p in r.points} for r in results]
    assert subsets[0] == subsets[1]


def test_the_leaderboard_differences_match_the_arms_points(two_arms):
    _, results = two_arms
    board = leaderboard(results, n_resamples=200)
    assert board["protocol"] == "finetune" and [arm["name"] for arm in board["arms"]] == [
        "from scratch", "simclr", "rotation"]
    for c in board["comparisons"]:
        mine = next(r for r in results if r.name == c["arm"])
        own = [p["auc"] for p in mine.points if p["method"] == mine.key and p["protocol"] == "finetune"
               and p["fraction"] == c["fraction"]]
        if c["against"] == "from scratch":
            other = [p["auc"] for p in mine.points if p["method"] == "supervised" and p["fraction"] == c["fraction"]]
        else:
            theirs = next(r for r in results if r.name == c["against"])
            other = [p["auc"] for p in theirs.points if p["method"] == theirs.key and p["protocol"] == "finetune"
                     and p["fraction"] == c["fraction"]]
        assert c["mean_difference"] == pytest.approx(sum(own) / len(own) - sum(other) / len(other), abs=1e-9)
        assert c["ci_low"] <= c["mean_difference"] <= c["ci_high"]
    table = leaderboard_table(board)
    assert list(table["arm"]) == ["from scratch", "simclr", "rotation"] and "vs from scratch at 10%" in table


def test_a_comparison_in_the_store_queues_linked_arms_and_cancels_as_a_whole(tmp_path):
    from sslcore.runs import RunStore
    from sslcore.runs.comparisons import cancel_comparison, create_comparison, get_comparison, list_comparisons

    store = RunStore(tmp_path / "runs.sqlite")
    config = ComparisonConfig(dataset="synthetic", arms=[Arm("simclr"), Arm("byol")], overrides=TINY)
    record = get_comparison(store, create_comparison(store, config))
    assert [run.arm for run in record.runs] == ["simclr", "byol"] and record.status == "running"
    assert {run.config["data_seed"] for run in record.runs} == {0}
    assert [c.id for c in list_comparisons(RunStore(tmp_path / "runs.sqlite"))] == [record.id]  # survives a restart
    cancelled = cancel_comparison(store, record.id)
    assert {run.status for run in cancelled.runs} == {"cancelled"} and cancelled.status == "finished"


def test_a_comparison_has_an_owner_counts_once_per_session_and_its_arms_in_total(tmp_path):
    from sslcore.runs import RunStore
    from sslcore.runs.comparisons import create_comparison, list_comparisons
    from sslcore.runs.store import QueueFullError, QueueLimits

    store = RunStore(tmp_path / "runs.sqlite")
    config = ComparisonConfig(dataset="synthetic", arms=[Arm("simclr"), Arm("byol")], overrides=TINY)
    limits = QueueLimits(per_owner=2, total=5)
    first = create_comparison(store, config, owner="alice", limits=limits)
    store.create_run("experiment", config.experiment(Arm("simclr")).to_dict(), owner="alice", limits=limits)
    with pytest.raises(QueueFullError, match="You already have 2 runs"):  # one comparison plus one run
        create_comparison(store, config, owner="alice", limits=limits)
    with pytest.raises(QueueFullError, match="The queue is full"):  # 3 waiting + 2 arms would pass 4
        create_comparison(store, config, owner="bob", limits=QueueLimits(total=4))
    assert [c.id for c in list_comparisons(store, owner="alice")] == [first]
    assert list_comparisons(store, owner="bob") == []


def test_an_arm_the_config_check_refuses_queues_nothing(tmp_path):
    from sslcore.runs import RunStore
    from sslcore.runs.comparisons import create_comparison, list_comparisons

    store = RunStore(tmp_path / "runs.sqlite")
    config = ComparisonConfig(dataset="synthetic", arms=[Arm("simclr")], overrides={**TINY, "epochs": 10**9})
    with pytest.raises(ValueError, match="epochs"):
        create_comparison(store, config)
    assert list_comparisons(store) == [] and store.list_runs() == []
