import dataclasses
import math
from dataclasses import replace

import pytest

from sslcore.catalogue import published
from sslcore.catalogue.published import published_for
from sslcore.evaluate.report import (METHOD_COLOURS, curve_summary, fraction_axis, label_efficiency_figure, published_curves,
                                    run_curves, summarise)
from sslcore.evaluate.sweep import Point


def point(method, fraction, seed, auc, protocol="linear", n_labelled=None):
    return {"method": method, "protocol": protocol, "fraction": fraction, "seed": seed, "auc": auc,
            "acc": auc - 0.1, "balanced_acc": auc - 0.2, "n_labelled": n_labelled or int(fraction * 1000)}


POINTS = [point("simclr", 0.01, s, auc) for s, auc in enumerate([0.70, 0.80, 0.75])] + [
    point("simclr", 1.0, s, auc) for s, auc in enumerate([0.90, 0.92, 0.94])] + [
    point("supervised", 0.01, s, auc, protocol="finetune") for s, auc in enumerate([0.55, 0.60, 0.65])]


def test_curve_summary_averages_seeds_with_a_std_or_min_max_band():
    summary = curve_summary(POINTS, "auc", band="std").set_index(["method", "fraction"])
    row = summary.loc[("simclr", 0.01)]
    assert row["mean"] == pytest.approx(0.75)
    assert row["low"] == pytest.approx(0.70) and row["high"] == pytest.approx(0.80)  # std of 0.7, .8, .75 is .05
    assert row["n_seeds"] == 3 and row["n_labelled"] == 10
    wide = curve_summary(POINTS + [point("simclr", 0.01, 3, 0.95)], "auc", band="min-max")
    row = wide.set_index(["method", "fraction"]).loc[("simclr", 0.01)]
    assert (row["low"], row["high"]) == (pytest.approx(0.70), pytest.approx(0.95))


def test_curve_summary_of_one_seed_has_no_band_and_rejects_unknown_metrics():
    summary = curve_summary([point("byol", 0.1, 0, 0.8)], "acc")
    assert summary.loc[0, ["mean", "low", "high"]].tolist() == pytest.approx([0.7, 0.7, 0.7])
    assert curve_summary([], "auc").empty
    with pytest.raises(ValueError, match="metric"):
        curve_summary(POINTS, "f1")


def test_label_efficiency_figure_draws_grey_baselines_a_style_per_protocol_on_a_log_axis_with_published_markers():
    summary = curve_summary(POINTS)
    published = published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)
    assert published and all(value.fraction is not None for value in published)
    figure = label_efficiency_figure(run_curves({"run 1": summary}), "auc",
                                     published=[*published, replace(published[0], fraction=None)])
    lines = {trace.name: trace for trace in figure.data if trace.name}
    assert lines["from scratch (supervised)"].line.dash == "solid"  # fine-tuned
    assert lines["from scratch (supervised)"].line.color == METHOD_COLOURS["supervised"]
    assert lines["SimCLR, linear"].line.dash == "dash"
    assert lines["SimCLR, linear"].line.color == METHOD_COLOURS["simclr"]
    assert list(lines["SimCLR, linear"].y) == pytest.approx([0.75, 0.92])
    stars = lines["published"]
    assert len(stars.x) == len(published)  # a number without a label fraction has no place on the x axis
    assert list(stars.y) == [value.value for value in published]
    assert any("MedMNIST" in source for _, source, _, _ in stars.customdata)
    assert figure.layout.xaxis.type == "log"


def test_label_efficiency_figure_escapes_html_in_published_sources():
    [value] = published_for("pneumoniamnist", protocol="finetune", metric="auc", image_size=28)[:1]
    figure = label_efficiency_figure([], "auc", published=[replace(value, paper="<b>bold</b> & co")])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in figure.data[0].customdata[0][1]


def test_published_curves_use_a_log_axis_and_escape_text_from_the_data():
    series = published.label_efficiency_curves("chexpert", "auc", protocol="linear")
    label, values = next(iter(series.items()))
    hostile = [dataclasses.replace(value, original_value="<script>x</script>") for value in values]
    figure = label_efficiency_figure(published_curves({f"<b>{label}</b>": hostile}), "auc")
    assert figure.layout.xaxis.type == "log"
    trace = figure.data[0]
    assert trace.name.startswith("&lt;b&gt;")
    assert "&lt;script&gt;x&lt;/script&gt;" in trace.customdata[0]


@pytest.mark.parametrize("fractions, ticks, text", [
    ([0.01, 0.05, 0.1, 0.25, 1.0, 0.01], [0.01, 0.05, 0.1, 0.25, 1.0], ["1%", "5%", "10%", "25%", "100%"]),
    ([0.005, 0.125], [0.005, 0.125], ["0.5%", "12.5%"]),
])
def test_fraction_axis_ticks_exactly_the_plotted_fractions(fractions, ticks, text):
    axis = fraction_axis(fractions)
    assert axis["type"] == "log" and axis["tickvals"] == ticks and axis["ticktext"] == text


def _point(method="simclr", fraction=0.1, seed=0, auc=0.8, n_labelled=10):
    return Point(method=method, protocol="linear", fraction=fraction, n_labelled=n_labelled, seed=seed, auc=auc,
                 acc=0.7, balanced_acc=0.6, auc_ci_low=auc - 0.1, auc_ci_high=auc + 0.1)


def test_summarise_gives_mean_std_and_count_per_group():
    points = [_point(seed=0, auc=0.7, n_labelled=10), _point(seed=1, auc=0.9, n_labelled=11),
              _point(method="random", auc=0.6).to_dict(), _point(fraction=1.0, auc=float("nan"))]
    rows = summarise(points)
    assert [(r["method"], r["fraction"]) for r in rows] == [("random", 0.1), ("simclr", 0.1), ("simclr", 1.0)]
    simclr = rows[1]
    assert simclr["count"] == 2 and simclr["n_labelled_mean"] == 10.5
    assert simclr["auc_mean"] == pytest.approx(0.8) and simclr["auc_std"] == pytest.approx(0.1414213, abs=1e-6)
    assert simclr["acc_std"] == 0.0
    assert rows[0]["auc_std"] == 0.0 and rows[0]["count"] == 1
    assert math.isnan(rows[2]["auc_mean"]) and rows[2]["acc_mean"] == pytest.approx(0.7)


def test_runs_on_one_test_set_draw_each_baseline_once_and_short_labels_name_the_run_only_when_needed():
    first = curve_summary(POINTS)
    second = curve_summary([dict(p, method="byol") if p["method"] == "simclr" else p for p in POINTS])
    names = [curve.name for curve in run_curves({"#1 a": first, "#2 b": second})]
    assert sorted(names) == ["BYOL, linear", "SimCLR, linear", "from scratch (supervised)"]
    apart = [curve.name for curve in run_curves({"#1 a": first, "#2 b": second}, shared_test_set=False)]
    assert sorted(apart) == ["#1 from scratch (supervised)", "#2 from scratch (supervised)", "BYOL, linear",
                             "SimCLR, linear"]
    same_method = [curve.name for curve in run_curves({"#1 a": first, "#3 c": first})]
    assert sorted(same_method) == ["#1 SimCLR, linear", "#3 SimCLR, linear", "from scratch (supervised)"]


def test_the_headline_names_the_baseline_in_a_sentence():
    from sslcore.evaluate.report import headline_comparison

    comparison = {"method": "simclr", "protocol": "linear", "baseline": "random", "baseline_protocol": "linear",
                  "fraction": 0.01, "n_labelled": 30, "mean_difference": 0.08, "ci_low": 0.03, "ci_high": 0.12,
                  "verdict": "better", "n_seeds": 3}
    assert "SimCLR, linear was better than the random encoder, linear: AUC difference +0.080" in \
        headline_comparison([comparison])
    scratch = dict(comparison, protocol="finetune", baseline="supervised", baseline_protocol="finetune",
                   verdict="worse")
    assert "was worse than training from scratch (supervised):" in headline_comparison([scratch])
