"""Reports of evaluation points: seed summaries, label-efficiency curves (of runs and of published
papers, drawn by one function) and the tables the pages and BENCHMARKS.md show.

pandas and plotly are imported inside the functions that need them.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from sslcore.evaluate.vocabulary import BASELINES, METRIC_NAMES

BANDS = ("std", "min-max")
# One colour per method and per baseline on every chart (Results, Runs, Learn): the Okabe-Ito
# palette, readable by colour-blind readers; the baselines in greys.
METHOD_COLOURS = {"simclr": "#0072B2", "moco": "#E69F00", "byol": "#009E73", "simsiam": "#CC79A7",
                  "barlow_twins": "#D55E00", "micle": "#56B4E9", "mae": "#F0E442", "rotation": "#8C564B",
                  "supervised (all labels)": "#7F7F7F", "supervised": "#333333", "random": "#A0A0A0"}
OTHER_COLOURS = ("#1F77B4", "#FF7F0E", "#2CA02C", "#9467BD", "#17BECF")
# Line style per protocol: which classifier sat on the representation.
PROTOCOL_DASH = {"finetune": "solid", "linear": "dash", "knn": "dot"}
PROTOCOL_WORDS = {"finetune": "fine-tuned", "linear": "linear", "knn": "kNN"}
BASELINE_WORDS = {("supervised", "finetune"): "from scratch (supervised)", ("random", "linear"): "random encoder, linear",
                  ("random", "knn"): "random encoder, kNN"}


def _as_row(point) -> dict[str, Any]:
    return point if isinstance(point, dict) else point.to_dict()


def summarise(points: Iterable[Any]) -> list[dict[str, Any]]:
    """Each metric over seeds per (method, protocol, fraction).

    Args:
        points: evaluation points (dicts or :class:`sslcore.evaluate.Point`) with keys method, protocol,
            fraction, n_labelled and the metrics of :data:`METRIC_NAMES`.

    Returns:
        One dict per group, sorted by method, protocol and fraction, with keys ``method``,
        ``protocol``, ``fraction``, ``count``, ``n_labelled_mean`` and, for each metric,
        ``<metric>_mean``, ``<metric>_std`` (sample std, 0 for one value), ``<metric>_min``,
        ``<metric>_max`` and ``<metric>_n`` (values that are not NaN; NaN values are left out).
    """
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for point in points:
        row = _as_row(point)
        groups.setdefault((row["method"], row["protocol"], float(row["fraction"])), []).append(row)
    summary = []
    for (method, protocol, fraction), rows in sorted(groups.items()):
        entry: dict[str, Any] = {"method": method, "protocol": protocol, "fraction": fraction, "count": len(rows),
                                 "n_labelled_mean": sum(row["n_labelled"] for row in rows) / len(rows)}
        for key in METRIC_NAMES:
            values = [float(row[key]) for row in rows if row.get(key) is not None and not math.isnan(float(row[key]))]
            mean = sum(values) / len(values) if values else math.nan
            spread = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
                      if len(values) > 1 else 0.0 if values else math.nan)
            entry.update({f"{key}_mean": mean, f"{key}_std": spread, f"{key}_min": min(values, default=math.nan),
                          f"{key}_max": max(values, default=math.nan), f"{key}_n": len(values)})
        summary.append(entry)
    return summary


def curve_summary(points: Iterable[Any], metric: str = "auc", band: str = "std"):
    """Mean of ``metric`` over seeds per method, protocol and label fraction, with a band.

    Args:
        points: evaluation points (see :func:`summarise`).
        metric: ``auc``, ``acc`` or ``balanced_acc``.
        band: ``std`` (mean +- one standard deviation over seeds) or ``min-max``.

    Returns:
        A DataFrame with columns method, protocol, fraction, n_labelled, mean, low, high, n_seeds,
        sorted by method, protocol and fraction; groups without a value of ``metric`` are left out.
    """
    import pandas as pd

    if metric not in METRIC_NAMES:
        raise ValueError(f"metric must be one of {', '.join(METRIC_NAMES)}, got {metric!r}")
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    rows = []
    for entry in summarise(points):
        if not entry[f"{metric}_n"]:
            continue
        mean, spread = entry[f"{metric}_mean"], entry[f"{metric}_std"]
        low, high = ((mean - spread, mean + spread) if band == "std"
                     else (entry[f"{metric}_min"], entry[f"{metric}_max"]))
        rows.append({"method": entry["method"], "protocol": entry["protocol"], "fraction": entry["fraction"],
                     "n_labelled": round(entry["n_labelled_mean"]), "mean": mean, "low": low, "high": high,
                     "n_seeds": entry[f"{metric}_n"]})
    columns = ["method", "protocol", "fraction", "n_labelled", "mean", "low", "high", "n_seeds"]
    return pd.DataFrame(rows, columns=columns)


def fraction_axis(fractions: Iterable[float]) -> dict[str, Any]:
    """A plotly log-scale x axis for label fractions, ticked at exactly the fractions plotted
    (plotly's own log ticks label every minor step: "1% 1% 1% 2% 3%...").

    Args:
        fractions: the label fractions (0-1] on the chart.
    """
    ticks = sorted({round(float(fraction), 6) for fraction in fractions})
    return dict(type="log", title="fraction of training labels", tickvals=ticks,
                ticktext=[f"{fraction:.1%}".replace(".0%", "%") for fraction in ticks])


@dataclass(frozen=True)
class Curve:
    """One line of a label-efficiency chart, from a run or from a paper.

    Attributes:
        name: the legend entry (plain text; escaped when drawn).
        fractions: label fractions (x), ascending.
        values: the metric at each fraction (y).
        hover: one line of plain text per point (escaped when drawn).
        low, high: a band around the values (e.g. over seeds); empty for none.
        dash: plotly's dash style (``solid``, ``dash``, ``dot``).
        colour: the line's colour (the chart's palette in order when None).
    """

    name: str
    fractions: tuple[float, ...]
    values: tuple[float, ...]
    hover: tuple[str, ...]
    low: tuple[float, ...] = field(default=())
    high: tuple[float, ...] = field(default=())
    dash: str = "solid"
    colour: str | None = None


def method_colour(method: str) -> str:
    """The fixed colour of a method or baseline (a stable pick from a second palette for others)."""
    if method in METHOD_COLOURS:
        return METHOD_COLOURS[method]
    return OTHER_COLOURS[sum(map(ord, method)) % len(OTHER_COLOURS)]


def arm_label(method: str, protocol: str) -> str:
    """A short legend label: ``BYOL, linear``; ``from scratch (supervised)``; ``random encoder, kNN``."""
    if (method, protocol) in BASELINE_WORDS:
        return BASELINE_WORDS[(method, protocol)]
    from sslcore.methods import METHODS

    base, _, start = method.partition(" from ")
    title = METHODS[base].title if base in METHODS else base
    if start:
        title = f"{title} from {start}"
    return f"{title}, {PROTOCOL_WORDS.get(protocol, protocol)}"


def run_curves(curves: dict[str, Any], metric: str = "auc", band: str = "std", *,
               shared_test_set: bool = True) -> list[Curve]:
    """The lines of runs' :func:`curve_summary` frames (run label -> frame), each with its band over
    seeds: one colour per method (baselines grey), one line style per protocol, short legend labels
    (the run in the hover text). When the runs share one test set, each baseline is drawn once (from
    the first run that has it); otherwise each run keeps its own, named after it."""
    band_label = "± 1 std" if band == "std" else "min–max"
    lines, drawn = [], set()
    methods_per_run = {run: set(summary["method"]) - set(BASELINES) for run, summary in curves.items()}
    ambiguous = len(curves) > 1 and len(set.union(set(), *methods_per_run.values())) < sum(map(len, methods_per_run.values()))
    for run, summary in curves.items():
        for (method, protocol), group in summary.groupby(["method", "protocol"], sort=True):
            baseline = method in BASELINES
            if baseline and shared_test_set and (method, protocol) in drawn:
                continue
            drawn.add((method, protocol))
            name = arm_label(method, protocol)
            if len(curves) > 1 and ((not baseline and ambiguous) or (baseline and not shared_test_set)):
                name = f"{run.split(' ')[0]} {name}"  # the run's "#id"
            group = group.sort_values("fraction")
            hover = tuple(f"{name} ({run}): {fraction:.1%} of labels ({n} images), {METRIC_NAMES[metric]} {mean:.3f} "
                          f"({band_label} {low:.3f}–{high:.3f}, {seeds} seeds)"
                          for fraction, n, mean, low, high, seeds in group[
                              ["fraction", "n_labelled", "mean", "low", "high", "n_seeds"]].itertuples(index=False))
            lines.append(Curve(name=name, fractions=tuple(group["fraction"]), values=tuple(group["mean"]),
                               hover=hover, low=tuple(group["low"]), high=tuple(group["high"]),
                               dash=PROTOCOL_DASH.get(protocol, "solid"), colour=method_colour(method)))
    return lines


def published_curves(curves: dict[str, list[Any]]) -> list[Curve]:
    """The lines of ``sslcore.catalogue.published.label_efficiency_curves`` (label -> values);
    dotted where a value was read off a plot (confidence low)."""
    return [Curve(name=label, fractions=tuple(value.fraction for value in values),
                  values=tuple(value.value for value in values),
                  hover=tuple(f"{value.fraction:.1%} of labels: {value.value:.3f}; published {value.original_value} "
                              f"({value.unit}), confidence {value.confidence}; {value.url}" for value in values),
                  dash="dot" if any(value.confidence == "low" for value in values) else "solid")
            for label, values in curves.items()]


def label_efficiency_figure(curves: Iterable[Curve], metric: str = "auc", published: Iterable[Any] = (),
                            y_title: str | None = None):
    """One plotly chart of label-efficiency curves, for runs and for papers alike.

    Args:
        curves: the lines (:func:`run_curves`, :func:`published_curves`).
        metric: the metric the values are in (for the axis title).
        published: single published numbers (``PublishedValue``, values as fractions) drawn as stars
            with their source on hover; those without a label fraction have no place on the axis.
        y_title: the y axis title (default ``test <metric>``).

    Returns:
        A ``plotly.graph_objects.Figure``: x the fraction of labels on a log scale. Every text
        from the data is HTML-escaped: plotly renders tags in names and hover text.
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    figure = go.Figure()
    curves = list(curves)
    for index, curve in enumerate(curves):
        colour = curve.colour or qualitative.Plotly[index % len(qualitative.Plotly)]
        name = html.escape(curve.name)
        if curve.low:
            figure.add_trace(go.Scatter(
                x=list(curve.fractions) + list(curve.fractions)[::-1], y=list(curve.high) + list(curve.low)[::-1],
                fill="toself", fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                showlegend=False, legendgroup=name))
        figure.add_trace(go.Scatter(
            x=curve.fractions, y=curve.values, name=name, legendgroup=name, mode="lines+markers",
            line=dict(color=colour, dash=curve.dash), customdata=[html.escape(text) for text in curve.hover],
            hovertemplate="%{customdata}<extra></extra>"))
    plotted = [value for value in published if value.fraction is not None]
    if plotted:
        figure.add_trace(go.Scatter(
            x=[value.fraction for value in plotted], y=[value.value for value in plotted],
            mode="markers", name="published", marker=dict(symbol="star", size=12, color="black"),
            customdata=[[html.escape(f"{value.method} ({value.backbone}, {value.image_size or '?'} px)"),
                         html.escape(value.source), value.confidence, html.escape(value.original_value)]
                        for value in plotted],
            hovertemplate="<b>published: %{customdata[0]}</b><br>%{x:.1%} of labels<br>"
                          f"{METRIC_NAMES.get(metric, metric)} %{{y:.3f}} (as published: %{{customdata[3]}})<br>"
                          "%{customdata[1]}<br>confidence: %{customdata[2]}<extra></extra>"))
    fractions = [*(fraction for curve in curves for fraction in curve.fractions),
                 *(value.fraction for value in plotted)]
    figure.update_layout(xaxis=fraction_axis(fractions),
                         yaxis=dict(title=y_title or f"test {METRIC_NAMES.get(metric, metric)}"),
                         legend=dict(orientation="h", y=-0.2), margin=dict(t=30), hoverlabel=dict(namelength=-1))
    return figure


def beside_published(points: Iterable[dict[str, Any]], dataset_id: str, protocol: str, metric: str = "auc",
                     image_size: int | None = None):
    """A run's mean ``metric`` per method and label fraction, then the published numbers (found with
    ``sslcore.catalogue.published.published_for``) for the same dataset, protocol and image size.

    Returns:
        A DataFrame with columns ``who`` (``this run`` or the paper), method, fraction, value,
        spread (std over seeds; None for a published number), confidence and url.
    """
    import pandas as pd

    from sslcore.catalogue.published import published_for

    columns = ["who", "method", "fraction", "value", "spread", "confidence", "url"]
    own = curve_summary([p for p in points if p["protocol"] == protocol], metric, "std")
    rows = [{"who": "this run", "method": row.method, "fraction": row.fraction, "value": row.mean,
             "spread": (row.high - row.low) / 2, "confidence": "measured", "url": None} for row in own.itertuples()]
    rows += [{"who": value.source, "method": f"{value.method} ({value.backbone})", "fraction": value.fraction,
              "value": value.value, "spread": None, "confidence": value.confidence, "url": value.url}
             for value in published_for(dataset_id, protocol=protocol, metric=metric, image_size=image_size)]
    return pd.DataFrame(rows, columns=columns)


def label_efficiency_table(points: Iterable[dict[str, Any]], method: str, *, protocol: str = "linear",
                           metric: str = "auc"):
    """The SSL method against both baselines at each label fraction, averaged over seeds.

    Args:
        points: evaluation points (``run_experiment``'s).
        method: the SSL method's name in the points.
        protocol: the SSL method's protocol (``linear``, ``knn`` or ``finetune``); the random
            baseline is read under the same frozen protocol, the supervised one under ``finetune``.
        metric: ``auc``, ``acc`` or ``balanced_acc``.

    Returns:
        A DataFrame indexed by fraction with columns n_labelled, ``method``, supervised, random
        (NaN where a baseline was not run) and gain (``method`` minus supervised).
    """
    import pandas as pd

    summary = curve_summary(points, metric)

    def by_fraction(name: str, name_protocol: str):
        return summary[(summary["method"] == name) & (summary["protocol"] == name_protocol)].set_index("fraction")

    ssl = by_fraction(method, protocol)
    if ssl.empty:
        raise ValueError(f"no {method} ({protocol}) points with {metric} to tabulate")
    table = pd.DataFrame({"n_labelled": ssl["n_labelled"], method: ssl["mean"],
                          "supervised": by_fraction("supervised", "finetune")["mean"],
                          "random": by_fraction("random", protocol)["mean"]}).sort_index()
    table["gain"] = table[method] - table["supervised"]
    return table


def comparison_table(comparisons: Iterable[dict[str, Any]]):
    """The paired differences (``sslcore.evaluate.compare.Comparison`` dicts) as a table for a page:
    method, compared with, fraction, labelled images, difference, its 95% interval and the verdict."""
    import pandas as pd

    rows = [{"method": arm_label(c["method"], c["protocol"]),
             "compared with": arm_label(c["baseline"], c["baseline_protocol"]),
             "fraction": c["fraction"], "labelled images": c["n_labelled"],
             "AUC difference": c["mean_difference"], "95% interval": f"{c['ci_low']:+.3f} to {c['ci_high']:+.3f}",
             "verdict": c["verdict"], "seeds": c["n_seeds"]} for c in comparisons]
    columns = ["method", "compared with", "fraction", "labelled images", "AUC difference", "95% interval", "verdict",
               "seeds"]
    return pd.DataFrame(rows, columns=columns)


def headline_comparison(comparisons: Iterable[dict[str, Any]]) -> str | None:
    """The sentence a reader should see first: fine-tuning against training from scratch at the smallest
    label fraction (the frozen-probe pair when no fine-tuning was evaluated); None without comparisons."""
    comparisons = list(comparisons)
    if not comparisons:
        return None
    preferred = [c for c in comparisons if c["protocol"] == "finetune"] or comparisons
    c = min(preferred, key=lambda c: (c["fraction"], c["protocol"]))
    words = {"better": "was better than", "worse": "was worse than",
             "no detectable difference": "showed no detectable difference from"}[c["verdict"]]
    baseline = ("training " if c["baseline"] == "supervised" else "the ") + arm_label(c["baseline"], c["baseline_protocol"])
    return (f"With {c['fraction']:.0%} of the labels ({c['n_labelled']} images), {arm_label(c['method'], c['protocol'])} "
            f"{words} {baseline}: AUC difference {c['mean_difference']:+.3f} "
            f"(95% interval {c['ci_low']:+.3f} to {c['ci_high']:+.3f}, {c['n_seeds']} seed(s)).")


NOTHING_LEARNED_CAUSES = (
    "the schedule is too short for this method (BYOL, SimSiam and the masked autoencoder usually need hundreds "
    "of epochs; try the method's GPU recipe or SimCLR)",
    "the learning rate is too high or too low for it (bench select tries a small grid on validation)",
    "the augmentations are too weak (telling views apart is trivial) or too strong (the views stop looking like "
    "the same anatomy)",
    "there are too few unlabelled images for the pretext task to teach anything general",
)


def learning_check(points: Iterable[Any]) -> dict[str, Any] | None:
    """Did pretraining beat a random encoder? On VALIDATION data: the method's frozen-probe validation
    AUC (linear, else kNN) against the random encoder's under the same probe, averaged over the same
    label fractions and seeds.

    Returns:
        ``protocol``, ``method_val_auc``, ``random_val_auc``, ``difference``, ``beat_random`` (the
        difference is above zero), ``sentence`` and ``causes`` (likely reasons when it did not); None
        when the points hold no such pair.
    """
    rows = [_as_row(point) for point in points]
    for protocol in ("linear", "knn"):
        random = {(r["fraction"], r["seed"]): r["val_auc"] for r in rows
                  if r["method"] == "random" and r["protocol"] == protocol and r.get("val_auc") is not None}
        own = [(r["val_auc"], random[(r["fraction"], r["seed"])]) for r in rows
               if r["method"] not in BASELINES and r["protocol"] == protocol and r.get("val_auc") is not None
               and (r["fraction"], r["seed"]) in random]
        own = [(a, b) for a, b in own if not (math.isnan(a) or math.isnan(b))]
        if own:
            method_auc = sum(a for a, _ in own) / len(own)
            random_auc = sum(b for _, b in own) / len(own)
            beat = method_auc > random_auc
            sentence = (f"Pretraining beat a random encoder on validation: {protocol} AUC {method_auc:.3f} against "
                        f"{random_auc:.3f}." if beat else
                        f"This pretraining did not beat a random encoder: on validation its {protocol} probe reached "
                        f"AUC {method_auc:.3f} against {random_auc:.3f} for the same probe on random weights.")
            return {"protocol": protocol, "method_val_auc": method_auc, "random_val_auc": random_auc,
                    "difference": method_auc - random_auc, "beat_random": beat, "sentence": sentence,
                    "causes": [] if beat else list(NOTHING_LEARNED_CAUSES)}
    return None
