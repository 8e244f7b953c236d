"""What the Lab, Results, Embeddings and Runs pages compute: kept here so that it can be tested.

Nothing here imports streamlit; pandas, plotly and torch are imported inside the functions that
need them.
"""

from __future__ import annotations

import functools
import io
import re
import shlex
from pathlib import Path
from typing import Any, Iterable

from sslcore.experiment import BASELINES

METRICS = {"auc": "AUC", "acc": "Accuracy", "balanced_acc": "Balanced accuracy"}
BANDS = ("std", "min-max")
UPLOAD_LIMIT_MB = 200
MEDMNIST_KEYS = ("train_images", "train_labels", "val_images", "val_labels", "test_images", "test_labels")


# --- Label-efficiency curves -------------------------------------------------------------------

def curve_summary(points: Iterable[dict[str, Any]], metric: str = "auc", band: str = "std"):
    """Mean of ``metric`` over seeds per method, protocol and label fraction, with a band.

    Args:
        points: evaluation points (keys method, protocol, fraction, n_labelled, seed and the metrics).
        metric: ``auc``, ``acc`` or ``balanced_acc``.
        band: ``std`` (mean +- one standard deviation over seeds) or ``min-max``.

    Returns:
        A DataFrame with columns method, protocol, fraction, n_labelled, mean, low, high, n_seeds,
        sorted by method, protocol and fraction.
    """
    import pandas as pd

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    columns = ["method", "protocol", "fraction", "n_labelled", "mean", "low", "high", "n_seeds"]
    frame = pd.DataFrame(list(points))
    if frame.empty or metric not in frame:
        return pd.DataFrame(columns=columns)
    frame = frame.dropna(subset=[metric])
    summary = (frame.groupby(["method", "protocol", "fraction"], as_index=False)
               .agg(n_labelled=("n_labelled", "median"), mean=(metric, "mean"), std=(metric, "std"),
                    low=(metric, "min"), high=(metric, "max"), n_seeds=(metric, "size")))
    if band == "std":
        spread = summary["std"].fillna(0.0)  # one seed: no spread to show
        summary["low"], summary["high"] = summary["mean"] - spread, summary["mean"] + spread
    summary["n_labelled"] = summary["n_labelled"].round().astype(int)
    return summary[columns].sort_values(["method", "protocol", "fraction"], ignore_index=True)


def curve_figure(curves: dict[str, Any], metric: str = "auc", band: str = "std", published: Iterable[Any] = ()):
    """One plotly chart of label-efficiency curves.

    Args:
        curves: run label -> :func:`curve_summary` frame.
        metric: the metric the frames summarise (for the axis title).
        band: the band the frames hold (for the hover text).
        published: :class:`sslcore.published.PublishedValue` s in the same metric (values as fractions);
            those with a stated label fraction are drawn as stars with their source on hover.

    Returns:
        A ``plotly.graph_objects.Figure``: x the fraction of labels on a log scale, y the metric;
        the SSL method solid, the baselines dashed, each with its band over seeds.
    """
    import html

    import plotly.graph_objects as go
    from plotly.colors import qualitative

    from sslcore.published import fraction_axis

    figure = go.Figure()
    palette = qualitative.Plotly
    series = [(run, key, group) for run, summary in curves.items()
              for key, group in summary.groupby(["method", "protocol"], sort=True)]
    band_label = "± 1 std" if band == "std" else "min–max"
    for index, (run, (method, protocol), group) in enumerate(series):
        colour = palette[index % len(palette)]
        name = f"{run}: {method} ({protocol})" if len(curves) > 1 else f"{method} ({protocol})"
        group = group.sort_values("fraction")
        figure.add_trace(go.Scatter(
            x=list(group["fraction"]) + list(group["fraction"])[::-1],
            y=list(group["high"]) + list(group["low"])[::-1],
            fill="toself", fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
            showlegend=False, legendgroup=name))
        figure.add_trace(go.Scatter(
            x=group["fraction"], y=group["mean"], name=html.escape(name), legendgroup=name, mode="lines+markers",
            line=dict(color=colour, dash="dash" if method in BASELINES else "solid"),
            customdata=group[["n_labelled", "low", "high", "n_seeds"]].to_numpy(),
            hovertemplate=(f"<b>{html.escape(name)}</b><br>%{{x:.1%}} of labels (%{{customdata[0]}} images)<br>"
                           f"{METRICS[metric]} %{{y:.3f}} ({band_label} %{{customdata[1]:.3f}}–"
                           f"%{{customdata[2]:.3f}}, %{{customdata[3]}} seeds)<extra></extra>")))
    plotted = [value for value in published if value.fraction is not None]
    if plotted:
        # Source text is data: escape it, since plotly renders hover text as HTML.
        figure.add_trace(go.Scatter(
            x=[value.fraction for value in plotted], y=[value.value for value in plotted],
            mode="markers", name="published", marker=dict(symbol="star", size=12, color="black"),
            customdata=[[html.escape(f"{value.method} ({value.backbone}, {value.image_size or '?'} px)"),
                         html.escape(value.source), value.confidence, html.escape(value.original_value)]
                        for value in plotted],
            hovertemplate="<b>published: %{customdata[0]}</b><br>%{x:.1%} of labels<br>"
                          f"{METRICS[metric]} %{{y:.3f}} (as published: %{{customdata[3]}})<br>"
                          "%{customdata[1]}<br>confidence: %{customdata[2]}<extra></extra>"))
    fractions = [*(fraction for _, _, group in series for fraction in group["fraction"]),
                 *(value.fraction for value in plotted)]
    figure.update_layout(xaxis=fraction_axis(fractions),
                         yaxis=dict(title=f"test {METRICS[metric]}"), legend=dict(orientation="h", y=-0.2),
                         margin=dict(t=30))
    return figure


def beside_published(points: Iterable[dict[str, Any]], dataset_id: str, protocol: str, metric: str = "auc",
                     image_size: int | None = None):
    """A run's mean ``metric`` per method and label fraction, then the published numbers (found with
    :func:`sslcore.published.published_for`) for the same dataset, protocol and image size.

    Returns:
        A DataFrame with columns ``who`` (``this run`` or the paper), method, fraction, value,
        spread (std over seeds; None for a published number), confidence and url.
    """
    import pandas as pd

    from sslcore.published import published_for

    columns = ["who", "method", "fraction", "value", "spread", "confidence", "url"]
    own = curve_summary([p for p in points if p["protocol"] == protocol], metric, "std")
    rows = [{"who": "this run", "method": row.method, "fraction": row.fraction, "value": row.mean,
             "spread": (row.high - row.low) / 2, "confidence": "measured", "url": None} for row in own.itertuples()]
    rows += [{"who": value.source, "method": f"{value.method} ({value.backbone})", "fraction": value.fraction,
              "value": value.value, "spread": None, "confidence": value.confidence, "url": value.url}
             for value in published_for(dataset_id, protocol=protocol, metric=metric, image_size=image_size)]
    return pd.DataFrame(rows, columns=columns)


def reference_dataset_id(spec: str) -> str:
    """The ``dataset_id`` published numbers are filed under for a run's dataset spec: the MedMNIST flag
    of a flag or a MedMNIST file name (``.../pneumoniamnist_64.npz``), else the spec itself."""
    from sslcore.data.npz import MEDMNIST, flag_from_path

    if spec.lower() in MEDMNIST:
        return spec.lower()
    return flag_from_path(Path(spec)) or spec


# --- Live view -------------------------------------------------------------------------------

def live_progress(metrics: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What the live view shows, from a run's metric rows (``RunStore.metrics``).

    Returns:
        ``fraction`` (latest ``progress``, 0 before any), the latest ``eta_seconds``,
        ``images_per_second``, ``loss`` and ``knn_accuracy`` (None before any), and ``curve``:
        a DataFrame of step and loss.
    """
    import pandas as pd

    frame = pd.DataFrame(list(metrics), columns=["step", "epoch", "name", "value", "time"]).dropna(subset=["value"])
    latest = frame.groupby("name")["value"].last()

    def last(name: str) -> float | None:
        return float(latest[name]) if name in latest else None

    curve = frame[frame["name"] == "loss"][["step", "value"]].rename(columns={"value": "loss"})
    return {"fraction": min(1.0, max(0.0, last("progress") or 0.0)), "eta_seconds": last("eta_seconds"),
            "images_per_second": last("images_per_second"), "loss": last("loss"),
            "knn_accuracy": last("knn_accuracy"), "curve": curve.reset_index(drop=True)}


# --- Runs ------------------------------------------------------------------------------------

def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"evaluation": {"seeds": [0, 1]}}`` -> ``{"evaluation.seeds": "[0, 1]"}`` (leaves as text)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def config_diff(configs: dict[str, dict[str, Any]], only_different: bool = True):
    """A table of config keys (rows) by run (columns); by default only the keys whose values differ."""
    import pandas as pd

    table = pd.DataFrame({run: flatten(config) for run, config in configs.items()})
    table = table.fillna("(absent)").sort_index()
    if only_different and len(configs) > 1:
        table = table[table.nunique(axis=1) > 1]
    return table


def replay_command(config_path: str | Path) -> str:
    """The shell command that replays a run from its saved config."""
    return f"python -m sslcore experiment --config {shlex.quote(str(config_path))}"


# --- Embeddings ------------------------------------------------------------------------------

EMBEDDING_KEYS = ("features_before", "features_after", "labels")


def load_embeddings(path: str | Path) -> dict[str, Any]:
    """A run's ``embeddings.npz`` as numpy arrays, checked.

    Required: ``features_before`` and ``features_after`` (N, D) and ``labels`` (N,) or (N, L).
    Optional, each (N,) unless said: ``patient_ids``, ``split`` (names), ``labelled`` (bool: in
    the smallest labelled subset), ``images`` (uint8 (N, C, H, W) thumbnails) and ``label_names`` (L,).

    Raises:
        ValueError: unreadable, or a required array missing, or lengths that disagree.
    """
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except Exception as error:  # zipfile, numpy and OS errors all mean an unusable file
        raise ValueError(f"{path} could not be read as an .npz ({error})") from None
    missing = [key for key in EMBEDDING_KEYS if key not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    n = len(data["labels"])
    wrong = [key for key, value in data.items() if key != "label_names" and len(value) != n]
    if wrong:
        raise ValueError(f"{path}: {', '.join(wrong)} do not have one row per image ({n})")
    return data


def embedding_table(data: dict[str, Any]):
    """One row per image: ``index``, ``class``, ``split``, ``patient``, ``labelled`` (what colours a plot)."""
    import numpy as np
    import pandas as pd

    labels = data["labels"]
    names = [str(name) for name in data.get("label_names", [])]
    if labels.ndim == 2:  # multi-label: the set of positive labels
        classes = [", ".join(names[j] if j < len(names) else f"label {j}" for j in np.flatnonzero(row)) or "none"
                   for row in labels]
    else:
        classes = [names[label] if label < len(names) else f"class {label}" for label in labels.astype(int)]
    n = len(labels)
    return pd.DataFrame({
        "index": np.arange(n), "class": classes,
        "split": data["split"].astype(str) if "split" in data else "test",
        "patient": data["patient_ids"].astype(str) if "patient_ids" in data else np.arange(n).astype(str),
        "labelled": np.where(data["labelled"], "labelled", "unlabelled") if "labelled" in data else "unknown",
    })


def thumbnails(images, size: int = 48) -> list[str]:
    """Each image (uint8 (N, C, H, W)) as a PNG data URI at most ``size`` px wide, for hover tooltips."""
    import base64

    from PIL import Image

    uris = []
    for pixels in displayable(images):
        picture = Image.fromarray(pixels)
        if picture.width > size:
            picture = picture.resize((size, size), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        uris.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return uris


EMBEDDING_SELECTION = "picked"


def embedding_chart(coordinates, table, colour_by: str, title: str, images: list[str] | None = None):
    """An Altair scatter of 2-D ``coordinates`` (N, 2) coloured by a column of :func:`embedding_table`.

    Hovering a dot shows its image (``images``: data URIs from :func:`thumbnails`; Vega's tooltip
    draws the field named ``image``), class and split; clicking selects it (selection
    ``EMBEDDING_SELECTION`` over the ``index`` field).
    """
    import altair as alt

    frame = table.assign(x=coordinates[:, 0], y=coordinates[:, 1])
    tooltip = ["index", "class", "split"]
    if images is not None:
        frame["image"] = images
        tooltip.insert(0, "image")
    picked = alt.selection_point(fields=["index"], name=EMBEDDING_SELECTION, on="click")
    legend = None if colour_by == "patient" else alt.Legend(title=colour_by, orient="bottom")
    return (alt.Chart(frame, title=title, height=420)
            .mark_circle(size=28)
            .encode(x=alt.X("x", axis=None), y=alt.Y("y", axis=None),
                    color=alt.Color(colour_by, legend=legend),
                    opacity=alt.condition(picked, alt.value(0.9), alt.value(0.25)), tooltip=tooltip)
            .add_params(picked))


# --- Datasets --------------------------------------------------------------------------------

def samples_per_class(labels, per_class: int, seed: int = 0) -> dict[int, list[int]]:
    """Up to ``per_class`` random indices of each class (of each positive label, for multi-label)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = labels if labels.ndim == 2 else torch.nn.functional.one_hot(labels.long()).bool()
    chosen = {}
    for class_index in range(labels.shape[1]):
        members = torch.nonzero(labels[:, class_index].bool()).flatten()
        order = torch.randperm(len(members), generator=generator)[:per_class]
        chosen[class_index] = members[order].tolist()
    return chosen


def displayable(images):
    """Images uint8 or float in [0, 1], shaped (N, C, H, W), as a numpy uint8 (N, H, W[, 3]) for display."""
    import torch

    images = torch.as_tensor(images)
    if images.dtype != torch.uint8:
        images = (images.float().clamp(0, 1) * 255).round().to(torch.uint8)
    images = images.cpu()
    return (images[:, 0] if images.shape[1] == 1 else images.permute(0, 2, 3, 1)).numpy()


def save_upload(filename: str, data: bytes, limit_mb: int = UPLOAD_LIMIT_MB) -> Path:
    """Check an uploaded MedMNIST-layout ``.npz`` and save it atomically into the dataset cache.

    Returns:
        Its path, ``data_home()/datasets/uploads/<name>.npz``, which ``load_dataset`` accepts.

    Raises:
        ValueError: not an ``.npz``, over ``limit_mb``, unreadable, or missing MedMNIST arrays.
    """
    import numpy as np

    from sslcore.io import atomic_write_bytes
    from sslcore.paths import data_home

    if not filename.lower().endswith(".npz"):
        raise ValueError(f"{filename!r} is not an .npz file; upload a MedMNIST-style .npz")
    if len(data) > limit_mb * 1024 * 1024:
        raise ValueError(f"{filename!r} is {len(data) / 1024 ** 2:.0f} MB, over the {limit_mb} MB limit")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [key for key in MEDMNIST_KEYS if key not in archive.files]
    except Exception as error:  # zipfile, numpy and pickle errors all mean a corrupt upload
        raise ValueError(f"{filename!r} could not be read as an .npz ({error})") from None
    if missing:
        raise ValueError(f"{filename!r} lacks the MedMNIST arrays {', '.join(missing)}")
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(filename).stem).strip("_") or "upload"
    return atomic_write_bytes(data_home() / "datasets" / "uploads" / f"{stem}.npz", data)


def dataset_choices() -> dict[str, str]:
    """What the Lab can load without a download, spec -> label: the synthetic set, MedMNIST files in the
    cache (one entry per size), and the ``.npz`` files of a developer's ``../shared/data``."""
    from sslcore.data.npz import MEDMNIST, cached_files
    from sslcore.paths import SHARED_DIR

    choices = {"synthetic": "synthetic chest radiographs (built in)"}
    for flag, size, path in cached_files():
        choices[str(path)] = f"{MEDMNIST[flag].title} ({size} px, downloaded)"
    for path in sorted((SHARED_DIR / "data").glob("*.npz")):
        choices[str(path)] = f"{path.name} (shared data folder)"
    return choices


def uploaded_datasets() -> list[Path]:
    """The ``.npz`` files uploaded earlier, by name."""
    from sslcore.paths import data_home

    return sorted((data_home() / "datasets" / "uploads").glob("*.npz"))


def format_duration(seconds: float) -> str:
    """``42`` -> ``"42 s"``, ``150`` -> ``"2.5 min"``, ``7200`` -> ``"2.0 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


# --- Duration estimate -----------------------------------------------------------------------

TIMING_BATCH = 64
TIMED_STEPS = 3


@functools.lru_cache(maxsize=32)
def measured_images_per_second(method: str, backbone: str, image_size: int, channels: int, n_classes: int,
                               task: str, batch_size: int, device: str = "auto") -> tuple[float, str]:
    """Pretraining images/s of this method and backbone on this machine, and the device used.

    Times a few optimisation steps (augmentation included) on random images, after one warm-up
    step, with at most ``TIMING_BATCH`` images per step. Cached per set of arguments.
    """
    import torch

    from sslcore.augment import AugmentConfig, augment, normalize
    from sslcore.bench import timed_steps
    from sslcore.config import PretrainConfig
    from sslcore.methods import Batch
    from sslcore.train import build_model, resolve_device

    torch_device = resolve_device(device)
    config = PretrainConfig(method=method, backbone=backbone, image_size=image_size, batch_size=batch_size)
    model = build_model(config, channels=channels, n_classes=n_classes, task=task).to(torch_device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    n = min(batch_size, TIMING_BATCH)
    images = torch.randint(0, 256, (n, channels, image_size, image_size), dtype=torch.uint8, generator=generator)
    labels = (torch.randint(0, 2, (n, n_classes), generator=generator).float() if task == "multi-label"
              else torch.randint(0, n_classes, (n,), generator=generator))
    batch = Batch(images=images.to(torch_device), labels=labels.to(torch_device) if model.needs_labels else None,
                  partner_images=images.flip(0).to(torch_device) if model.needs_partner else None)
    augment_config = AugmentConfig.preset("radiograph")
    sync = torch.cuda.synchronize if torch_device.type == "cuda" else (lambda: None)

    def step() -> None:
        loss = model.training_step(batch, lambda x: normalize(augment(x, augment_config, generator)))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.on_step_end(0.5)

    seconds_per_step = timed_steps(step, 1, TIMED_STEPS, sync)
    return n / seconds_per_step, str(torch_device)


def estimate_pretraining(config, dataset) -> dict[str, Any]:
    """How long pretraining ``config`` (a ``PretrainConfig``) on ``dataset`` should take here.

    Returns:
        ``device``, ``images_per_second`` (measured, see :func:`measured_images_per_second`),
        ``images`` (images seen over all epochs) and ``seconds``.
    """
    n_train = len(dataset.splits["train"].labels)
    n_train = min(config.max_train_images or n_train, n_train)
    images = n_train // config.batch_size * config.batch_size * config.epochs
    rate, device = measured_images_per_second(config.method, config.backbone, config.image_size, dataset.channels,
                                              dataset.n_classes, dataset.task, config.batch_size, config.device)
    return {"device": device, "images_per_second": rate, "images": images, "seconds": images / rate}


# --- Method diagrams -------------------------------------------------------------------------

_DIAGRAM_STYLE = ('digraph {rankdir=LR; bgcolor="transparent"; '
                  'node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11]; '
                  'edge [fontname="Helvetica", fontsize=9];')


def method_diagram(strategy: str, *, same_patient: bool = False, supervised: bool = False) -> str:
    """A Graphviz DOT drawing of how a method of this strategy learns (for ``st.graphviz_chart``).

    Args:
        strategy: ``contrastive``, ``non-contrastive``, ``generative``, ``innate-relationship`` or ``hybrid``.
        same_patient: the two views come from two images of the same patient (MICLe).
        supervised: the supervised baseline (image -> encoder -> classifier -> expert label).
    """
    # Two views of one image, or (MICLe) of two images of one patient.
    source = 'a [label="image"]; ' + ('b [label="another image\\nof the same patient"]; ' if same_patient else '')
    views = f'a -> v1 [label="augment"]; {"b" if same_patient else "a"} -> v2 [label="augment"];'
    if supervised:
        body = ('a [label="image"]; e [label="encoder"]; h [label="classifier"]; y [label="expert label"]; '
                'l [label="cross-entropy", shape=ellipse, fillcolor="#fde8d8"]; a -> e -> h -> l; y -> l;')
    elif strategy in ("contrastive", "hybrid"):
        body = (f'{source} v1 [label="view 1"]; v2 [label="view 2"]; {views} '
                'e1 [label="encoder"]; e2 [label="encoder\\n(same weights)"]; p1 [label="projector"]; p2 [label="projector"]; '
                'l [label="contrastive loss:\\npull the two views together,\\npush other images away", shape=ellipse, '
                'fillcolor="#fde8d8"]; v1 -> e1 -> p1 -> l; v2 -> e2 -> p2 -> l;')
    elif strategy == "non-contrastive":
        body = (f'{source} v1 [label="view 1"]; v2 [label="view 2"]; {views} '
                'e1 [label="online encoder"]; p1 [label="projector + predictor"]; '
                'e2 [label="target encoder\\n(slow copy or stop-gradient)"]; p2 [label="projector"]; '
                'l [label="agreement loss:\\nmake the two views match,\\nno negatives", shape=ellipse, fillcolor="#fde8d8"]; '
                'v1 -> e1 -> p1 -> l; v2 -> e2 -> p2 -> l; e1 -> e2 [style=dashed, label="weights", constraint=false];')
    elif strategy == "generative":
        body = ('a [label="image"]; m [label="mask most patches"]; e [label="encoder\\n(visible patches)"]; '
                'd [label="decoder"]; r [label="reconstructed image"]; '
                'l [label="reconstruction loss\\non the hidden patches", shape=ellipse, fillcolor="#fde8d8"]; '
                'a -> m -> e -> d -> r -> l; a -> l [style=dashed, label="original"];')
    elif strategy == "innate-relationship":
        body = ('a [label="image"]; t [label="transform\\n(e.g. rotate by 0, 90, 180 or 270°)"]; e [label="encoder"]; '
                'h [label="classifier"]; l [label="loss: predict\\nwhich transform", shape=ellipse, fillcolor="#fde8d8"]; '
                'a -> t -> e -> h -> l; t -> l [style=dashed, label="the answer"];')
    else:
        raise ValueError(f"no diagram for strategy {strategy!r}")
    return _DIAGRAM_STYLE + body + "}"
