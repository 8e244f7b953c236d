"""The Comparisons page: a stored comparison's arms, its leaderboard and its downloads."""

import os

import pandas as pd
import torch
from streamlit.testing.v1 import AppTest

from sslcore.evaluate.compare import scores_npz
from sslcore.experiments.comparison import Arm, ComparisonConfig
from sslcore.paths import PROJECT_ROOT
from sslcore.runs import RunStore
from sslcore.runs.comparisons import create_comparison, get_comparison

LABELS = torch.tensor([0, 1] * 100)


def scores(signal: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    p1 = torch.sigmoid(signal * (2 * LABELS.double() - 1) + torch.randn(len(LABELS), generator=generator,
                                                                          dtype=torch.float64))
    return torch.stack([1 - p1, p1], dim=1)


def finish_arm(store, run, signal: float) -> None:
    """Points and test scores of an arm that fine-tuned with ``signal`` against a scratch baseline of 0.5."""
    store.claim_next(os.getpid(), "cpu")
    keyed, points = {}, []
    for method, strength in ((run.arm, signal), ("supervised", 0.5)):
        for fraction in (0.1, 1.0):
            for seed in (0, 1):
                keyed[(method, "finetune", fraction, seed, 0)] = scores(strength * fraction, seed + 10 * len(keyed))
                points.append({"method": method, "protocol": "finetune", "fraction": fraction, "seed": seed,
                               "n_labelled": int(100 * fraction), "auc": 0.5 + strength * fraction / 10})
    store.add_points(run.id, points)
    store.write_artifact(run.id, "scores.npz", scores_npz(keyed, LABELS, "f" * 64, "binary"))
    store.finish(run.id, "succeeded", result={"test_sha256": "f" * 64, "images_per_second": 100.0,
                                              "learning": {"beat_random": signal > 1}})


def test_the_leaderboard_ranks_the_arms_against_scratch_and_offers_its_downloads():
    store = RunStore()
    config = ComparisonConfig(dataset="synthetic", arms=[Arm("simclr"), Arm("byol")])
    record = get_comparison(store, create_comparison(store, config))
    for run, signal in zip(record.runs, (3.0, 0.5)):
        finish_arm(store, store.get(run.id), signal)
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "compare.py"), default_timeout=60).run()
    assert not page.exception
    aucs, table = page.dataframe[0].value, page.dataframe[1].value  # AUC by fraction; differences and cost
    assert list(aucs["arm"]) == ["from scratch", "simclr", "byol"] and "AUC at 10%" in aucs
    assert list(table["arm"]) == ["from scratch", "simclr", "byol"] and "AUC at 10%" not in table
    assert table.loc[1, "vs from scratch at 10%"].endswith("better")
    assert table.loc[2, "vs from scratch at 10%"].endswith("no detectable difference")
    assert list(table["beats a random encoder"]) == ["", "yes", "no"]
    assert list(table["images/s"])[1:] == [100, 100] and pd.isna(table.loc[0, "images/s"])  # scratch: no pretraining
    assert [button.label for button in page.get("download_button")] == ["Leaderboard (CSV)", "Comparison config (JSON)"]


def test_without_comparisons_the_page_points_to_the_lab():
    page = AppTest.from_file(str(PROJECT_ROOT / "pages" / "compare.py"), default_timeout=60).run()
    assert "No comparison yet" in page.info[0].value
