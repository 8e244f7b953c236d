import json
import math

import pytest
import torch

from sslcore import learn
from sslcore.learn import assets as learn_assets
from sslcore.augment import AugmentConfig, to_float
from sslcore.data.synthetic_cxr import DEFAULT_IMAGE_SIZE
from sslcore.catalogue import load_catalogue, load_taxonomy
from sslcore.evaluate.report import label_efficiency_table
from sslcore.experiments.config import EvaluationConfig, ExperimentConfig
from sslcore.experiments.presets import preset
from sslcore.methods import build_method
from sslcore.models import build_backbone
from sslcore.training.config import PretrainConfig

NO_AUGMENTATION = AugmentConfig.preset("none")


@pytest.fixture(scope="module")
def teaching():
    """The page's images at 64 px (what it shows), at the synthetic set's default size (what the SimCLR
    encoder reads) and at 28 px."""
    return {size: learn.teaching_dataset(size) for size in (28, DEFAULT_IMAGE_SIZE, 64)}


@pytest.fixture(scope="module")
def assets():
    return learn.load_assets()


def one_per_class(split, n_classes):
    return torch.stack([learn.class_members(split.labels, c)[0] for c in range(n_classes)])


def test_teaching_images_name_the_same_image_at_both_sizes(teaching):
    small, large = (teaching[size].splits["train"] for size in (28, 64))
    assert torch.equal(small.labels, large.labels) and torch.equal(small.patient_ids, large.patient_ids)
    shrunk = torch.nn.functional.interpolate(large.images[:50].float(), size=28, mode="area")
    same = (shrunk - small.images[:50].float()).abs().mean()
    shifted = (shrunk - small.images[50:100].float()).abs().mean()
    assert same < shifted / 3


def test_views_follow_each_methods_recipe(teaching):
    train = teaching[64].splits["train"]
    index, partner = learn.same_patient_pairs(train.patient_ids, 1)[0].tolist()
    image, other = train.images[index], train.images[partner]
    mae = learn.MAEArchitecture(image_size=64).build(mask_ratio=0.75)
    views = learn.views_by_method(image, learn.VIEW_METHODS, partner=other, mae=mae, augment_config=NO_AUGMENTATION)
    assert list(views) == list(learn.VIEW_METHODS)
    original = to_float(image)
    for name in learn.TWO_VIEW_METHODS:
        assert views[name].images.shape == (2, 1, 64, 64)
        assert torch.equal(views[name].images[0], original) and torch.equal(views[name].images[1], original)
    assert torch.equal(views["micle"].images[1], to_float(other))  # the positive is the patient's other image
    turned = views["rotation"].images
    assert turned.shape == (4, 1, 64, 64) and views["rotation"].captions[1] == "turned 90°"
    for quarter_turns in range(4):
        assert torch.equal(turned[quarter_turns], torch.rot90(original, quarter_turns, dims=(1, 2)))
    visible, masked = views["mae"].images
    hidden = (masked == torch.tensor(learn.HIDDEN_COLOUR).view(3, 1, 1)).all(dim=0)  # greyscale is never blue
    assert hidden.float().mean().item() == pytest.approx(0.75)
    assert torch.equal(masked[:, ~hidden], visible[:, ~hidden]) and torch.equal(visible[0], original[0])


def test_augmented_views_differ_from_the_image_and_repeat_with_the_seed(teaching):
    image = teaching[64].splits["train"].images[0]
    views = learn.views_by_method(image, ["simclr", "byol"], seed=3)
    first, second = views["simclr"].images
    original = to_float(image)
    assert (first - original).abs().mean() > 0.02 and (first - second).abs().mean() > 0.02
    assert (views["byol"].images[0] - first).abs().mean() > 0.02  # each method draws its own views
    assert torch.equal(learn.views_by_method(image, ["simclr", "byol"], seed=3)["simclr"].images, views["simclr"].images)
    assert not torch.equal(learn.views_by_method(image, ["simclr"], seed=4)["simclr"].images, views["simclr"].images)


def test_views_reject_what_they_cannot_draw(teaching):
    image = teaching[64].splits["train"].images[0]
    with pytest.raises(ValueError, match="no views for supervised"):
        learn.views_by_method(image, ["supervised"])
    with pytest.raises(ValueError, match="partner"):
        learn.views_by_method(image, ["micle"])
    with pytest.raises(ValueError, match="64 px"):
        learn.views_by_method(image, ["mae"], mae=learn.MAEArchitecture(image_size=32).build())
    with pytest.raises(ValueError, match="uint8"):
        learn.views_by_method(image.float(), ["simclr"])


def test_same_patient_pairs_are_two_different_images_of_one_patient_each(teaching):
    ids = teaching[64].splits["train"].patient_ids
    pairs = learn.same_patient_pairs(ids, 20, seed=1)
    assert pairs.shape == (20, 2)
    assert torch.equal(ids[pairs[:, 0]], ids[pairs[:, 1]])
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert len(set(ids[pairs[:, 0]].tolist())) == 20  # one pair per patient
    assert not torch.equal(learn.same_patient_pairs(ids, 20, seed=2), pairs)
    many = ids.unique(return_counts=True)[1].gt(1).sum().item()
    assert len(learn.same_patient_pairs(ids, 10_000)) == many
    assert learn.same_patient_pairs(torch.arange(5), 3).shape == (0, 2)  # nobody has two images
    with pytest.raises(ValueError, match="at least 1"):
        learn.same_patient_pairs(ids, 0)


def test_other_images_of_patient():
    ids = torch.tensor([4, 7, 4, 4, 9])
    assert learn.other_images_of_patient(ids, 2).tolist() == [0, 3]
    assert learn.other_images_of_patient(ids, 4).tolist() == []
    with pytest.raises(ValueError, match="index"):
        learn.other_images_of_patient(ids, 5)


def test_similarity_of_identical_views_puts_each_views_partner_first():
    torch.manual_seed(0)
    encoder = build_backbone("small_cnn", 1, 28)
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    similarity = learn.similarity_matrix(encoder, images, augment_config=NO_AUGMENTATION)
    assert similarity.matrix.shape == (8, 8) and similarity.positives.tolist() == [1, 0, 3, 2, 5, 4, 7, 6]
    assert torch.allclose(similarity.matrix, similarity.matrix.T)
    assert torch.equal(similarity.nearest, similarity.positives)
    assert similarity.positive_similarity == pytest.approx(1.0, abs=1e-5)
    assert similarity.negative_similarity < 1.0


def test_the_shipped_simclr_encoder_matches_two_augmented_views_of_one_image(teaching, assets):
    """The page's batch (one image of each finding, unseen in training) under pretraining's augmentations.

    A small encoder trained for a few minutes finds a view's partner as its nearest neighbour most of
    the time, not always (the page counts the hits and words its sentence on them)."""
    small = teaching[assets.simclr.config.image_size].splits["train"]
    encoder = learn.contrastive_encoder(assets.simclr.method)
    hits = views = 0
    for seed in range(5):
        for offset in range(3):
            images = small.images[[learn.class_members(small.labels, c)[offset].item() for c in range(5)]]
            similarity = learn.similarity_matrix(encoder, images, seed=seed)
            hits += int((similarity.nearest == similarity.positives).sum())
            views += len(similarity.positives)
            assert similarity.positive_similarity > similarity.negative_similarity + 0.3, (seed, offset)
    assert hits >= 0.7 * views  # chance: 1 in 9


def test_an_untrained_encoder_does_not_match_augmented_views_as_well(teaching, assets):
    size = assets.simclr.config.image_size
    small = teaching[size].splits["train"]
    images = small.images[one_per_class(small, 5)]
    torch.manual_seed(0)
    untrained = learn.contrastive_encoder(build_method("simclr", build_backbone("small_cnn", 1, size),
                                                       n_classes=5, task="multi-class"))
    trained = learn.contrastive_encoder(assets.simclr.method)
    hits = {name: sum(int((learn.similarity_matrix(encoder, images, seed=seed).nearest ==
                           torch.arange(10) ^ 1).sum()) for seed in range(5))
            for name, encoder in (("trained", trained), ("untrained", untrained))}
    assert hits["trained"] > hits["untrained"]


@pytest.mark.parametrize("found, positive, negative, says", [
    (10, 0.8, 0.1, "the encoder recognises an image"),
    (6, 0.5, 0.2, "recognises some images under these alterations but not all: 4 views"),
    (1, 0.3, 0.3, "does not recognise the images"),
    (10, 0.2, 0.4, "does not recognise the images"),  # partners nearest, yet no closer than strangers on average
])
def test_the_similarity_sentence_follows_the_numbers(found, positive, negative, says):
    assert says in learn.recognition_sentence(found, 10, positive, negative)


def test_the_similarity_sentence_refuses_impossible_counts():
    with pytest.raises(ValueError, match="found <= n_views"):
        learn.recognition_sentence(11, 10, 0.5, 0.1)


def test_similarity_figure_outlines_the_positive_pairs_and_escapes_hover_text():
    similarity = learn.Similarity(views=torch.zeros(4, 1, 8, 8), matrix=torch.eye(4),
                                  positives=torch.tensor([1, 0, 3, 2]))
    labels = ["A1", "A2", "B1", "B2"]
    figure = learn.similarity_figure(similarity, labels, ["<b>x</b>"] * 4)
    heatmap, outline = figure.data
    assert [list(row) for row in zip(outline.x, outline.y)] == [["A2", "A1"], ["A1", "A2"], ["B2", "B1"], ["B1", "B2"]]
    assert all(math.isnan(heatmap.z[i][i]) for i in range(4)) and heatmap.z[0][1] == 0
    assert heatmap.customdata[0][1][0] == "&lt;b&gt;x&lt;/b&gt;"
    with pytest.raises(ValueError, match="one label"):
        learn.similarity_figure(similarity, labels[:3])


def test_the_shipped_masked_autoencoder_redraws_hidden_tiles_better_than_their_visible_mean(teaching, assets):
    test = teaching[64].splits["test"]
    mae = assets.mae()
    result = learn.reconstruct(mae, test.images, seed=0)
    assert result.hidden.float().mean().item() == pytest.approx(assets.mae_recipe.mask_ratio)
    assert result.error.mean() < 0.5 * result.baseline_error.mean()
    visible = ~result.hidden.expand_as(result.original)
    assert torch.allclose(result.reconstruction[visible], result.original[visible], atol=1e-5)  # copied, not redrawn
    hidden_more = learn.reconstruct(assets.mae(0.9), test.images, seed=0)
    assert hidden_more.hidden.float().mean().item() == pytest.approx(0.9, abs=0.02)
    assert hidden_more.error.mean() > result.error.mean()  # less to go on, worse guesses


def test_reconstruct_needs_a_raw_pixel_autoencoder_and_matching_images(teaching):
    images = teaching[64].splits["test"].images[:2]
    standard = build_method("mae", build_backbone("vit_tiny", 1, 64), n_classes=5, task="multi-class")
    with pytest.raises(ValueError, match="raw pixels"):
        learn.reconstruct(standard, images)
    with pytest.raises(ValueError, match="64, 64"):
        learn.reconstruct(learn.MAEArchitecture().build(), teaching[28].splits["test"].images[:2])


def test_the_shipped_rotation_model_names_the_angle_of_unseen_images(teaching, assets):
    test = teaching[64].splits["test"]  # drawn from another seed than the model's images
    n = len(test.images)
    guesses = learn.guess_rotations(assets.rotation.method, test.images)
    assert guesses.turned.shape == (n, 4, 1, 64, 64) and guesses.probabilities.shape == (n, 4, 4)
    assert torch.allclose(guesses.probabilities.sum(-1), torch.ones(n, 4))
    assert torch.equal(guesses.turned[0, 1], torch.rot90(to_float(test.images[0]), 1, dims=(1, 2)))
    assert guesses.accuracy > 0.9
    assert learn.RotationGuesses(guesses.turned[:1], torch.eye(4).roll(1, dims=1)[None]).accuracy == 0.0


def test_the_shipped_curve_holds_every_point_of_the_experiment(assets):
    config = assets.manifest["experiment"]["config"]
    evaluation = config["evaluation"]
    points = assets.points
    assert len(points) == assets.manifest["experiment"]["n_points"]
    series = {(point["method"], point["protocol"]) for point in points}
    assert series == ({(config["method"], protocol) for protocol in evaluation["protocols"]}
                      | {("random", protocol) for protocol in evaluation["protocols"] if protocol != "finetune"}
                      | {("supervised", "finetune")})
    for method, protocol in series:
        grid = {(point["fraction"], point["seed"]) for point in points
                if (point["method"], point["protocol"]) == (method, protocol)}
        assert grid == {(fraction, seed) for fraction in evaluation["fractions"] for seed in evaluation["seeds"]}
    assert all(0 <= point["auc"] <= 1 for point in points)
    table = label_efficiency_table(points, config["method"])
    assert list(table.index) == sorted(evaluation["fractions"])
    assert table["n_labelled"].is_monotonic_increasing and table[["supervised", "random"]].notna().all().all()


def test_label_efficiency_table_averages_seeds_per_method():
    points = [{"method": method, "protocol": protocol, "fraction": fraction, "n_labelled": int(fraction * 1000),
               "seed": seed, "auc": base + fraction / 10 + seed / 100, "acc": 0.5, "balanced_acc": 0.5}
              for method, protocol, base in (("byol", "linear", 0.8), ("supervised", "finetune", 0.6))
              for fraction in (0.01, 1.0) for seed in (0, 2)]
    table = label_efficiency_table(points, "byol")
    assert table.loc[0.01, "byol"] == pytest.approx(0.811) and table.loc[1.0, "supervised"] == pytest.approx(0.71)
    assert table.loc[0.01, "gain"] == pytest.approx(0.2) and table["random"].isna().all()
    assert table.loc[0.01, "n_labelled"] == 10
    with pytest.raises(ValueError, match="no simclr"):
        label_efficiency_table(points, "simclr")


def test_pretraining_curves_split_step_losses_from_epoch_accuracies():
    history = [{"step": 1, "epoch": 1, "loss": 3.0}, {"step": 2, "epoch": 1, "loss": 2.5},
               {"step": 2, "epoch": 1, "knn_accuracy": 0.4, "collapse_score": 0.9},
               {"step": 3, "epoch": 2, "loss": 2.0}, {"step": 3, "epoch": 2, "knn_accuracy": None}]
    losses, knn = learn.pretraining_curves(history)
    assert losses["loss"].tolist() == [3.0, 2.5, 2.0] and losses["step"].tolist() == [1, 2, 3]
    assert knn.to_dict("records") == [{"epoch": 1, "kNN accuracy": 0.4}]


def test_strategy_overview_counts_studies_and_links_into_the_catalogue():
    catalogue, taxonomy = load_catalogue(), load_taxonomy()
    overview = {item.value: item for item in learn.strategy_overview(catalogue.studies, taxonomy)}
    assert list(overview) == list(taxonomy.strategies)
    for value, item in overview.items():
        assert item.n_studies == sum(study.ssl_strategy == value for study in catalogue.studies)
        assert len(item.examples) == min(3, item.n_studies)
        years = [study.year or 0 for study in item.examples]
        assert years == sorted(years, reverse=True)
        assert item.link == f"catalogue?strategy={value}"
    assert {info.name for info in overview["contrastive"].methods} == {"simclr", "moco", "micle"}
    assert [info.name for info in overview["generative"].methods] == ["mae"]
    assert learn.catalogue_link("non contrastive&x") == "catalogue?strategy=non+contrastive%26x"


def test_loading_reports_how_to_build_missing_assets(tmp_path):
    with pytest.raises(FileNotFoundError, match="learn build-assets"):
        learn.load_assets(tmp_path)
    (tmp_path / learn.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        learn.load_manifest(tmp_path)


def test_loading_a_truncated_model_file_says_which_file(tmp_path):
    for path in learn.ASSETS_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    model = tmp_path / learn.ROTATION_FILE
    model.write_bytes(model.read_bytes()[:1000])
    with pytest.raises(ValueError, match=learn.ROTATION_FILE):
        learn.load_assets(tmp_path)


def test_shipped_assets_are_small_and_described_by_their_manifest(assets):
    sizes = {path.name: path.stat().st_size for path in learn.ASSETS_DIR.iterdir()}
    assert sum(sizes.values()) < 8 * 2 ** 20
    assert {name: sizes[name] for name in assets.manifest["bytes"]} == assets.manifest["bytes"]
    sources = learn.provenance(assets.manifest)
    assert set(sources) == {"curve", "rotation", "mae"}
    assert all(learn.BUILD_COMMAND in sentence for sentence in sources.values())


def tiny_recipe() -> learn.AssetRecipe:
    experiment = preset("cpu-quick", "synthetic", epochs=1, batch_size=32, device="cpu",
                        dataset_options={"n_images": 160})
    experiment = ExperimentConfig(experiment.pretrain, EvaluationConfig(protocols=("knn",), fractions=(1.0,),
                                                                        seeds=(0,), baselines=("random",)))
    rotation = PretrainConfig(method="rotation", image_size=28, epochs=1, batch_size=32, knn_monitor=False,
                              device="cpu", dataset_options={"n_images": 120})
    mae = learn.MAERecipe(architecture=learn.MAEArchitecture(image_size=28, embed_dim=16, depth=1, num_heads=2,
                                                             decoder_dim=8), epochs=1, batch_size=32)
    return learn.AssetRecipe(experiment, rotation, mae)


def test_build_assets_with_tiny_settings_writes_a_loadable_set(tmp_path):
    target = tmp_path / "learn"
    target.mkdir()
    (target / learn.MANIFEST_FILE).write_text(json.dumps({"command": learn.BUILD_COMMAND}))  # an older build
    (target / "stale.pt").write_bytes(b"from an older build")
    messages = []
    recipe = tiny_recipe()
    manifest = learn.build_assets(target, recipe, on_message=messages.append)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["learn"]  # no staging folder left
    assert sorted(path.name for path in target.iterdir()) == sorted([*manifest["bytes"], learn.MANIFEST_FILE])
    assert json.loads((target / learn.MANIFEST_FILE).read_text()) == json.loads(json.dumps(manifest))
    assert manifest["command"] == learn.BUILD_COMMAND and manifest["torch"] == torch.__version__
    assert {"experiment_total_s", "rotation_s", "mae_s", "total_s"} <= set(manifest["timings"])
    loaded = learn.load_assets(target)
    assert {point["method"] for point in loaded.points} == {"simclr", "random"}
    assert all(value.dtype == torch.float16 for value in loaded.mae_state.values() if value.is_floating_point())
    assert loaded.mae().backbone.image_size == 28 and loaded.rotation.config.epochs == 1
    assert messages[0].startswith("1/3") and "wrote" in messages[-1]
    with pytest.raises(ValueError, match="same images"):
        learn.AssetRecipe(recipe.experiment, recipe.rotation, learn.MAERecipe())


def test_a_build_that_fails_half_way_leaves_the_previous_set_whole(tmp_path, monkeypatch):
    target = tmp_path / "learn"
    target.mkdir()
    previous = {path.name: path.read_bytes() for path in learn.ASSETS_DIR.iterdir()}
    for name, data in previous.items():
        (target / name).write_bytes(data)

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(learn_assets, "train_mae", no_space)  # after the curve and two models are written
    with pytest.raises(OSError, match="No space"):
        learn.build_assets(target, tiny_recipe(), on_message=lambda line: None)
    assert {path.name: path.read_bytes() for path in target.iterdir()} == previous
    assert sorted(path.name for path in tmp_path.iterdir()) == ["learn"]
    learn.load_assets(target)


@pytest.mark.parametrize("manifest", [None, "{not json", json.dumps({"command": "rm -rf"}), json.dumps([1])])
def test_build_assets_refuses_a_folder_of_someone_elses_files(tmp_path, manifest):
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("months of work")
    if manifest is not None:
        (target / learn.MANIFEST_FILE).write_text(manifest)
    before = {path.name: path.read_bytes() for path in target.iterdir()}
    messages = []
    with pytest.raises(ValueError, match="is not empty and holds no Learn assets"):
        learn.build_assets(target, tiny_recipe(), on_message=messages.append)
    assert messages == [] and {path.name: path.read_bytes() for path in target.iterdir()} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["thesis"]
    (tmp_path / "a_file").write_text("mine")
    with pytest.raises(ValueError, match="is a file"):
        learn.build_assets(tmp_path / "a_file", tiny_recipe(), on_message=messages.append)
    assert (tmp_path / "a_file").read_text() == "mine"


def test_the_build_assets_command_refuses_a_non_empty_folder_in_one_line(tmp_path, capsys):
    from sslcore.cli import main

    (tmp_path / "notes.txt").write_text("keep me")
    assert main(["learn", "build-assets", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path} is not empty and holds no Learn assets") and err.count("\n") == 1
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_an_unwritable_destination_fails_before_any_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    messages = []
    with pytest.raises(OSError):
        learn.build_assets(blocker / "learn", tiny_recipe(), on_message=messages.append)
    assert messages == []


def _comparison(fraction, difference, low, high, verdict):
    return {"method": "simclr", "protocol": "finetune", "baseline": "supervised", "baseline_protocol": "finetune",
            "fraction": fraction, "n_labelled": int(fraction * 1000), "mean_difference": difference, "ci_low": low,
            "ci_high": high, "verdict": verdict, "n_seeds": 3}


def test_the_curve_story_follows_the_intervals_not_the_means():
    story = learn.curve_story([_comparison(0.01, 0.04, -0.01, 0.09, "no detectable difference"),
                               _comparison(1.0, -0.01, -0.03, 0.01, "no detectable difference")])
    assert "not detectably different from training from scratch: AUC difference +0.040" in story[0]
    assert "no detectable difference at any label fraction" in story[-1]
    story = learn.curve_story([_comparison(0.01, 0.08, 0.03, 0.13, "better"),
                               _comparison(1.0, 0.0, -0.02, 0.02, "no detectable difference")])
    assert "was better than training from scratch" in story[0] and "helped where labels were scarce" in story[-1]
    story = learn.curve_story([_comparison(0.01, 0.08, 0.03, 0.13, "better"),
                               _comparison(0.05, 0.02, -0.01, 0.05, "no detectable difference"),
                               _comparison(0.25, -0.03, -0.05, -0.01, "worse"),
                               _comparison(1.0, 0.01, 0.001, 0.02, "better")])
    assert story[-1] == ("Pretraining helped detectably at 1%, 100% of the labels; at 5% there was no detectable "
                         "difference; at 25% it was worse.")
    assert learn.curve_story([{**_comparison(0.1, 0.1, 0.05, 0.15, "better"), "protocol": "linear",
                               "baseline": "random"}]) == []  # no like-for-like fine-tuning pair
