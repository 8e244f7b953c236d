"""Published results: the numbers papers report, to browse and to set beside the user's runs.

Two files in ``review_data/``, copied from checked sources (every row names its source and how
confidently its number was read):

- ``paper_results.csv``: one published number per row, with the source's own columns (``metric``
  names the unit, ``value`` is the number exactly as published) and six columns derived from them:

  - ``dataset_id``: the MedMNIST flag (``pneumoniamnist``), ``medmnist_average`` (MedMNIST+'s mean
    over its 12 datasets), ``chexpert``, ``imagenet1k``, ``google_derm``, or ``pooled`` (a claim
    over several datasets).
  - ``image_size``: the resolution of the dataset's images when the source states it. The model
    input can be larger (MedMNIST+ zero-pads to 224; the backbone column says so).
  - ``method_id``: ``supervised`` (trained with labels only, no pretraining: the MedMNIST v2
    ResNets are this baseline), ``imagenet_supervised`` (supervised ImageNet pretraining),
    ``automl`` or the self-supervised method (``dino``, ``moco``, ``simclr`` ...).
  - ``protocol``: ``finetune`` (the whole network trained on the labels, which includes a
    supervised model trained end-to-end from scratch), ``linear`` (linear probe on frozen
    features), ``knn`` (k-nearest neighbours on frozen features) or ``other``.
  - ``metric_id``: ``acc``, ``auc``, ``top1``, ``top5`` or ``other`` (gains, ratios, times).
  - ``unit``: ``fraction`` (0-1), ``percent`` (0-100) or ``other`` (e.g. a reduction factor).

- ``medmnist.csv``: the 12 MedMNIST v2 2D datasets (modality, task, split sizes, licence) with
  the benchmark ACC/AUC of each method, which must agree with the MedMNIST v2 rows above.

Lookups return :class:`PublishedValue` with ``value`` in one unit (fractions 0-1) and the row's
original value and unit beside it.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from sslcore.catalogue.checks import Problem
from sslcore.paths import REVIEW_DATA

RESULTS_PATH = REVIEW_DATA / "paper_results.csv"
MEDMNIST_PATH = REVIEW_DATA / "medmnist.csv"

PROTOCOLS = ("finetune", "linear", "knn", "other")
METRIC_IDS = ("acc", "auc", "top1", "top5", "other")
UNITS = ("fraction", "percent", "other")
CONFIDENCES = ("high", "medium", "low")
MEDMNIST_V2 = "yang2023_medmnistv2"
MEDMNIST_PLUS = "doerrich2025_medmnistplus"
# medmnist.csv column prefix -> the MedMNIST v2 method as paper_results.csv names it.
BENCHMARK_METHODS = {
    "resnet18_28": "ResNet-18 (28) supervised from scratch",
    "resnet18_224": "ResNet-18 (224) supervised from scratch",
    "resnet50_28": "ResNet-50 (28) supervised from scratch",
    "resnet50_224": "ResNet-50 (224) supervised from scratch",
    "autosklearn": "auto-sklearn",
    "autokeras": "AutoKeras",
    "google_automl_vision": "Google AutoML Vision",
}
RESULT_COLUMNS = (
    "key", "paper", "year", "venue", "doi_or_arxiv", "dataset", "dataset_id", "image_size", "modality",
    "task", "method", "method_id", "backbone", "pretrain_data", "label_fraction", "eval_protocol",
    "protocol", "metric", "metric_id", "unit", "value", "baseline_value", "table_or_figure",
    "source_url", "confidence")
MEDMNIST_COLUMNS = ("dataset_id", "dataset", "modality", "task", "n_classes", "n_train", "n_val", "n_test",
                    "licence", "n_channels", "source_data", "metadata_source", "benchmark_source") + tuple(
    f"{prefix}_{metric}" for prefix in BENCHMARK_METHODS for metric in ("acc", "auc"))
# Columns that must hold text; the rest may be empty where the source does not say.
REQUIRED_TEXT = ("key", "paper", "dataset", "dataset_id", "method", "method_id", "eval_protocol", "metric")
# What identifies a published number: everything but the number and its baseline.
IDENTITY = tuple(column for column in RESULT_COLUMNS if column not in ("value", "baseline_value"))
URL = re.compile(r"https?://[^\s;]+")
PERCENT_METRICS = ("acc", "auc", "top1", "top5")


@dataclass(frozen=True)
class PublishedValue:
    """One published number, normalised to fractions, with where it comes from.

    Attributes:
        key: the paper's citation key (``yang2023_medmnistv2``).
        paper: the paper's title and authors.
        year: publication year.
        dataset_id: normalised dataset (see the module docstring).
        dataset: the dataset as the source names it.
        image_size: pixels per side of the dataset's images; None when not stated.
        method_id: normalised method (``supervised`` is the no-pretraining baseline).
        method: the method as the source describes it.
        backbone: the network, as the source describes it.
        protocol: ``finetune``, ``linear``, ``knn`` or ``other``.
        eval_protocol: the protocol as the source describes it.
        metric_id: ``acc``, ``auc``, ``top1``, ``top5`` or ``other``.
        metric: the metric and its unit as the source gives them.
        fraction: fraction of the training labels used; None when not stated.
        value: the number as a fraction (0-1) when published as a fraction or a percentage;
            as published when its unit is ``other``.
        baseline: the source's comparison number in the same unit as ``value``; None if none.
        original_value: the number exactly as published.
        unit: the published unit: ``fraction``, ``percent`` or ``other``.
        table_or_figure: where in the source the number is.
        url: the first link of ``source_url``.
        source_url: every source, as recorded.
        confidence: ``high``, ``medium`` or ``low`` (low: read off a plot).
    """

    key: str
    paper: str
    year: int
    dataset_id: str
    dataset: str
    image_size: int | None
    method_id: str
    method: str
    backbone: str
    protocol: str
    eval_protocol: str
    metric_id: str
    metric: str
    fraction: float | None
    value: float
    baseline: float | None
    original_value: str
    unit: str
    table_or_figure: str
    url: str
    source_url: str
    confidence: str

    @property
    def source(self) -> str:
        """Paper and table or figure, for a hover or a caption."""
        return f"{self.paper}, {self.table_or_figure}"


@dataclass(frozen=True)
class BenchmarkTable:
    """A benchmark as a dataset x method table, with the sources of its numbers.

    Attributes:
        values: DataFrame indexed by dataset, one column per method, values as fractions.
        sources: DataFrame with dataset, metric (as published), unit, confidence,
            table_or_figure and url: one row per distinct source of the values.
    """

    values: Any
    sources: Any


def _to_fraction(text: str, unit: str) -> float:
    # Decimal division keeps 95.52 % as 0.9552, not 0.9551999999999999.
    return float(Decimal(text) / 100) if unit == "percent" else float(text)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


@functools.cache
def published_values() -> tuple[PublishedValue, ...]:
    """Every published number of ``paper_results.csv``, parsed once per process.

    The shipped file is checked by :func:`validate` (in the test suite and by
    ``python -m sslcore catalogue check``), so rows are trusted here.
    """
    _, rows = _read_csv(RESULTS_PATH)
    values = []
    for row in rows:
        unit = row["unit"]
        values.append(PublishedValue(
            key=row["key"], paper=row["paper"], year=int(row["year"]), dataset_id=row["dataset_id"],
            dataset=row["dataset"], image_size=int(row["image_size"]) if row["image_size"] else None,
            method_id=row["method_id"], method=row["method"], backbone=row["backbone"],
            protocol=row["protocol"], eval_protocol=row["eval_protocol"], metric_id=row["metric_id"],
            metric=row["metric"], fraction=float(row["label_fraction"]) if row["label_fraction"] else None,
            value=_to_fraction(row["value"], unit),
            baseline=_to_fraction(row["baseline_value"], unit) if row["baseline_value"] else None,
            original_value=row["value"], unit=unit, table_or_figure=row["table_or_figure"],
            url=URL.search(row["source_url"]).group(0), source_url=row["source_url"],
            confidence=row["confidence"]))
    return tuple(values)


@functools.cache
def medmnist_datasets() -> tuple[dict[str, str], ...]:
    """The rows of ``medmnist.csv`` (the 12 MedMNIST v2 2D datasets), as text, parsed once."""
    return tuple(_read_csv(MEDMNIST_PATH)[1])


def published_for(dataset_id: str, protocol: str | None = None, metric: str = "auc", *,
                  image_size: int | None = None) -> list[PublishedValue]:
    """The published numbers for one dataset: what a run on it can be compared with.

    Args:
        dataset_id: a MedMNIST flag (``pneumoniamnist``) or another ``dataset_id``; datasets
            nobody published on (``synthetic``, a folder) have none.
        protocol: ``finetune``, ``linear``, ``knn`` or ``other``; None for all. Supervised models
            trained from scratch count as ``finetune`` (``method_id == "supervised"``).
        metric: a ``metric_id`` (``auc``, ``acc``, ``top1``, ``top5``); a metric no paper reports
            here (``balanced_acc``) has none.
        image_size: only numbers on images of this many pixels per side; None for all.

    Returns:
        The matching values (fractions 0-1), sorted by paper, method, backbone, image size and
        label fraction.

    Raises:
        ValueError: an empty ``dataset_id`` or an unknown ``protocol``.
    """
    if not isinstance(dataset_id, str) or not dataset_id.strip():
        raise ValueError(f"dataset_id must be a non-empty string, got {dataset_id!r}")
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)} or None, got {protocol!r}")
    dataset_id, metric = dataset_id.strip().lower(), metric.lower()
    matches = [value for value in published_values()
               if value.dataset_id == dataset_id and value.metric_id == metric
               and protocol in (None, value.protocol) and image_size in (None, value.image_size)]
    return sorted(matches, key=lambda value: (value.key, value.method, value.backbone, value.image_size or 0,
                                              value.fraction or 0.0))


def reference_dataset_id(spec: str) -> str:
    """The ``dataset_id`` published numbers are filed under for a run's dataset spec: the MedMNIST flag
    of a flag or a MedMNIST file name (``.../pneumoniamnist_64.npz``), else the spec itself."""
    from sslcore.data.npz import MEDMNIST, flag_from_path

    if spec.lower() in MEDMNIST:
        return spec.lower()
    return flag_from_path(Path(spec)) or spec


def label_efficiency_curves(dataset_id: str | None = None, metric: str = "auc",
                            protocol: str | None = None) -> dict[str, list[PublishedValue]]:
    """Published label-efficiency curves: series where one paper reports several label fractions.

    Args:
        dataset_id: only this dataset; None for all.
        metric: a ``metric_id``.
        protocol: one of ``PROTOCOLS``; None for all.

    Returns:
        Series label (paper key, method, backbone, protocol and dataset) -> its values sorted by
        label fraction; only series with at least two fractions.
    """
    if protocol is not None and protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)} or None, got {protocol!r}")
    series: dict[str, list[PublishedValue]] = {}
    for value in published_values():
        if (value.fraction is None or value.metric_id != metric.lower()
                or dataset_id not in (None, value.dataset_id) or protocol not in (None, value.protocol)):
            continue
        label = f"{value.key}: {value.method}, {value.backbone}, {value.eval_protocol}, {value.dataset}"
        series.setdefault(label, []).append(value)
    return {label: sorted(values, key=lambda value: value.fraction)
            for label, values in sorted(series.items()) if len({value.fraction for value in values}) > 1}


def published_frame(values: Iterable[PublishedValue] | None = None):
    """Published values as a pandas DataFrame, one column per :class:`PublishedValue` field.

    Args:
        values: the values to tabulate; None for every published value.
    """
    import dataclasses

    import pandas as pd

    return pd.DataFrame([dataclasses.asdict(value) for value in (published_values() if values is None else values)],
                        columns=[field.name for field in dataclasses.fields(PublishedValue)])


def benchmark_table(key: str, metric: str = "auc", *, protocol: str | None = None,
                    image_size: int | None = None) -> BenchmarkTable:
    """One benchmark paper's numbers as a dataset x method table.

    Args:
        key: the paper, e.g. ``MEDMNIST_V2`` or ``MEDMNIST_PLUS``.
        metric: a ``metric_id``.
        protocol, image_size: narrow the rows so that each dataset and method has one number
            (MedMNIST+ reports three protocols at four resolutions).

    Raises:
        ValueError: no such numbers, or several numbers for one dataset and method.
    """
    import pandas as pd

    values = [value for value in published_values()
              if value.key == key and value.metric_id == metric.lower()
              and protocol in (None, value.protocol) and image_size in (None, value.image_size)]
    if not values:
        raise ValueError(f"no published {metric} of {key!r} for protocol={protocol!r}, image_size={image_size!r}")
    backbones: dict[str, set[str]] = {}
    for value in values:
        backbones.setdefault(value.method, set()).add(value.backbone)
    frame = pd.DataFrame({
        # The resolution is a filter here, so the dataset's name is shown without it.
        "dataset": [re.sub(r" \(\d+x\d+.*\)$", "", value.dataset) for value in values],
        "method": [value.method if len(backbones[value.method]) == 1 else f"{value.method}, {value.backbone}"
                   for value in values],
        "value": [value.value for value in values],
        "metric": [value.metric for value in values], "unit": [value.unit for value in values],
        "confidence": [value.confidence for value in values],
        "table_or_figure": [value.table_or_figure for value in values],
        "url": [value.url for value in values]})
    if frame.duplicated(["dataset", "method"]).any():
        raise ValueError(f"{key!r} has several {metric} per dataset and method: choose a protocol and an image size")
    # MedMNIST datasets in the order of medmnist.csv, then the rest (MedMNIST+'s average).
    known = [row["dataset"] for row in medmnist_datasets()]
    order = sorted(set(frame["dataset"]), key=lambda name: (known.index(name) if name in known else len(known), name))
    table = frame.pivot(index="dataset", columns="method", values="value").reindex(order)
    table.columns.name = None
    sources = frame.drop(columns=["method", "value"]).drop_duplicates(ignore_index=True)
    return BenchmarkTable(values=table, sources=sources)


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def validate(results_path: str | Path | None = None, medmnist_path: str | Path | None = None) -> list[Problem]:
    """Check the published-results files; ``[]`` when they are sound.

    Args:
        results_path: a ``paper_results.csv``; default the shipped one.
        medmnist_path: a ``medmnist.csv``; default the shipped one.

    Returns:
        One :class:`~sslcore.catalogue.checks.Problem` per problem (file and line): a missing column or text, no source URL, a value
        or baseline that is not a number, an unknown confidence, unit, protocol or metric, a value
        outside its unit's range, a label fraction outside (0, 1], a duplicated row, a MedMNIST
        dataset missing from ``medmnist.csv``, a benchmark number the two files disagree on.
    """
    results_path = Path(results_path or RESULTS_PATH)
    medmnist_path = Path(medmnist_path or MEDMNIST_PATH)
    problems: list[Problem] = []
    tables = {}
    for path, required in ((results_path, RESULT_COLUMNS), (medmnist_path, MEDMNIST_COLUMNS)):
        if not path.is_file():
            problems.append(Problem(path.name, "file", f"no such file ({path})"))
            continue
        columns, rows = _read_csv(path)
        missing = [column for column in required if column not in columns]
        if missing:
            problems.append(Problem(path.name, "header", f"missing column(s) {', '.join(missing)}"))
            continue
        tables[path] = rows
    if len(tables) < 2:
        return problems

    medmnist_rows = tables[medmnist_path]
    medmnist_ids = {row["dataset_id"] for row in medmnist_rows}
    problems += _validate_results(results_path.name, tables[results_path], medmnist_ids, medmnist_path.name)
    problems += _validate_medmnist(medmnist_path.name, medmnist_rows, tables[results_path], results_path.name)
    return problems


def _validate_results(name: str, rows: list[dict[str, str]], medmnist_ids: set[str],
                      medmnist_name: str) -> list[Problem]:
    problems = []
    first_line: dict[tuple[str, ...], int] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header

        def problem(message: str) -> None:
            problems.append(Problem(name, f"line {line}", message))

        for column in REQUIRED_TEXT:
            if not row[column].strip():
                problem(f"empty {column}")
        if not URL.search(row["source_url"]):
            problem(f"no source URL in source_url {row['source_url']!r}")
        for column, allowed in (("confidence", CONFIDENCES), ("unit", UNITS), ("protocol", PROTOCOLS),
                                ("metric_id", METRIC_IDS)):
            if row[column] not in allowed:
                problem(f"{column} {row[column]!r} is not one of {', '.join(allowed)}")
        value = _number(row["value"])
        if value is None:
            problem(f"value {row['value']!r} is not a number")
        elif row["metric_id"] in PERCENT_METRICS:
            upper = {"fraction": 1.0, "percent": 100.0}.get(row["unit"])
            if upper is not None and not 0.0 <= value <= upper:
                problem(f"{row['metric_id']} {row['value']} is outside 0-{upper:g} for unit {row['unit']!r}")
        if row["baseline_value"].strip() and _number(row["baseline_value"]) is None:
            problem(f"baseline_value {row['baseline_value']!r} is not a number")
        if row["label_fraction"].strip():
            fraction = _number(row["label_fraction"])
            if fraction is None or not 0.0 < fraction <= 1.0:
                problem(f"label_fraction {row['label_fraction']!r} is not a number in (0, 1]")
        if row["image_size"].strip() and not row["image_size"].isdigit():
            problem(f"image_size {row['image_size']!r} is not a whole number of pixels")
        if not row["year"].isdigit():
            problem(f"year {row['year']!r} is not a year")
        if row["dataset_id"].endswith("mnist") and row["dataset_id"] not in medmnist_ids:
            problem(f"MedMNIST dataset {row['dataset_id']!r} is not in {medmnist_name}")
        identity = tuple(row[column] for column in IDENTITY)
        if identity in first_line:
            problem(f"duplicates line {first_line[identity]}")
        else:
            first_line[identity] = line
    return problems


def _validate_medmnist(name: str, rows: list[dict[str, str]], results: list[dict[str, str]],
                       results_name: str) -> list[Problem]:
    problems = []
    benchmark = {(row["dataset_id"], row["method"], row["metric_id"]): row["value"]
                 for row in results if row["key"] == MEDMNIST_V2}
    seen = set()
    for line, row in enumerate(rows, start=2):

        def problem(message: str) -> None:
            problems.append(Problem(name, f"line {line}", message))

        dataset_id = row["dataset_id"]
        if dataset_id != row["dataset"].lower():
            problem(f"dataset_id {dataset_id!r} does not match dataset {row['dataset']!r}")
        if dataset_id in seen:
            problem(f"dataset {dataset_id!r} appears twice")
        seen.add(dataset_id)
        for prefix, method in BENCHMARK_METHODS.items():
            for metric in ("acc", "auc"):
                column = f"{prefix}_{metric}"
                value = _number(row[column])
                if value is None or not 0.0 <= value <= 1.0:
                    problem(f"{column} {row[column]!r} is not a fraction")
                    continue
                published = benchmark.get((dataset_id, method, metric))
                if published is None or _number(published) != value:
                    problem(f"{column} {row[column]} disagrees with {results_name} ({published or 'no such row'})")
    return problems


def check(review_dir: Path) -> list[Problem]:
    """:func:`validate` of ``review_dir``'s files, for ``python -m sslcore catalogue check``."""
    return validate(review_dir / RESULTS_PATH.name, review_dir / MEDMNIST_PATH.name)
