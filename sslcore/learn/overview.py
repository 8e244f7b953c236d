"""The Learn page's overviews: the two stages of SSL as a diagram, the strategies of the reviews'
taxonomy with their studies and methods, a pretraining history as charts, and the page's words
(``content.yaml``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

CONTENT_FILE = Path(__file__).resolve().parent / "content.yaml"


@functools.lru_cache(maxsize=1)
def content() -> dict[str, Any]:
    """The page's words: ``glossary`` (term -> explanation), ``guidelines`` (section -> items) and
    ``remedis`` (the recipe in steps, its published finding with the source, how to try it)."""
    import yaml

    return yaml.safe_load(CONTENT_FILE.read_text(encoding="utf-8"))


def pretraining_curves(history: list[dict[str, Any]]):
    """A pretraining history (``PretrainResult.history``) as two DataFrames for charts.

    Returns:
        ``loss``: columns step and loss, one row per step; ``knn``: columns epoch and kNN accuracy,
        one row per epoch that measured it (empty when the run did not monitor it).
    """
    import pandas as pd

    steps = pd.DataFrame([row for row in history if "loss" in row], columns=["step", "loss"])
    knn = pd.DataFrame([{"epoch": row["epoch"], "kNN accuracy": row["knn_accuracy"]} for row in history
                        if row.get("knn_accuracy") is not None], columns=["epoch", "kNN accuracy"])
    return steps, knn


PIPELINE_DIAGRAM = (
    'digraph {rankdir=TB; bgcolor="transparent"; nodesep=0.3; ranksep=0.25; '
    'node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=14]; '
    'edge [fontname="Helvetica", fontsize=12]; '
    'u [label="many images\nwithout labels"]; p [label="pretext task\n(match two altered copies)"]; '
    'e [label="pretrained\nencoder", fillcolor="#dff0d8"]; l [label="a few images\nwith expert labels"]; '
    'c [label="classifier on top\n(fine-tuning)"]; d [label="finding\n(e.g. effusion)", fillcolor="#fde8d8"]; '
    'u -> p [label=" 1. pretraining"]; p -> e; e -> c [label=" 2. fine-tuning"]; l -> c; c -> d; '
    '{rank=same; e; l}}'
)
"""Graphviz DOT of the two stages of self-supervised learning, for ``st.graphviz_chart``."""


# --- Strategies and the catalogue -----------------------------------------------------------------

@dataclass(frozen=True)
class StrategyOverview:
    """One strategy of the reviews' taxonomy, with the catalogue's studies and the project's methods.

    Attributes:
        value: the strategy's key (``contrastive`` ...), as in ``studies.csv``.
        label: its display name.
        explanation: the taxonomy's plain-language explanation.
        n_studies: studies of the catalogue annotated with it.
        examples: up to a few of them, newest first.
        methods: the project's methods of this strategy (``MethodInfo``).
        link: relative URL of the catalogue page filtered to it.
    """

    value: str
    label: str
    explanation: str
    n_studies: int
    examples: tuple[Any, ...]
    methods: tuple[Any, ...]
    link: str


def catalogue_link(strategy: str) -> str:
    """The catalogue page filtered to one strategy, as a URL relative to any page of the app
    (``pages/catalogue.py`` reads the ``strategy`` query parameter)."""
    from urllib.parse import urlencode

    return "catalogue?" + urlencode({"strategy": strategy})


def strategy_overview(studies: Iterable[Any], taxonomy, n_examples: int = 3) -> list[StrategyOverview]:
    """Each strategy of ``taxonomy`` with its studies and methods, in the taxonomy's order.

    Args:
        studies: catalogue studies (``Catalogue.studies``).
        taxonomy: ``sslcore.catalogue.load_taxonomy()``.
        n_examples: examples per strategy, newest first (then by title).
    """
    from sslcore.methods import METHODS

    if n_examples < 0:
        raise ValueError(f"n_examples must be >= 0, got {n_examples}")
    studies = list(studies)
    overview = []
    for value, term in taxonomy.strategies.items():
        members = sorted((study for study in studies if study.ssl_strategy == value),
                         key=lambda study: (-(study.year or 0), study.title))
        overview.append(StrategyOverview(
            value=value, label=term.label, explanation=term.explanation, n_studies=len(members),
            examples=tuple(members[:n_examples]),
            methods=tuple(info for info in METHODS.values() if info.strategy == value), link=catalogue_link(value)))
    return overview


def curve_story(comparisons: list[dict[str, Any]]) -> list[str]:
    """What the shipped label-efficiency curve shows, in sentences that follow its paired intervals.

    Each sentence compares like with like (fine-tuning the pretrained encoder against training the same
    network from scratch, on the same labelled images and test images) at the smallest and the
    largest label fraction; the last says what the verdicts add up to. An interval that covers zero
    is "no detectable difference", whatever the means.

    Args:
        comparisons: the experiment's paired comparisons (``ExperimentResult.comparisons``).
    """
    fine_tuned = sorted((c for c in comparisons if c["protocol"] == "finetune" and c["baseline"] == "supervised"),
                        key=lambda c: c["fraction"])
    if not fine_tuned:
        return []
    words = {"better": "better than", "worse": "worse than", "no detectable difference": "not detectably different from"}
    ends = [fine_tuned[0]] + ([fine_tuned[-1]] if len(fine_tuned) > 1 else [])
    sentences = [f"With {c['fraction']:.0%} of the labels ({c['n_labelled']} images), fine-tuning the pretrained "
                 f"encoder was {words[c['verdict']]} training from scratch: AUC difference {c['mean_difference']:+.3f} "
                 f"(95% interval {c['ci_low']:+.3f} to {c['ci_high']:+.3f})." for c in ends]
    better = [c["fraction"] for c in fine_tuned if c["verdict"] == "better"]
    if not better:
        sentences.append("In this small experiment pretraining made no detectable difference at any label fraction: "
                         "a few minutes on a laptop is far from the scale of published studies (see the Evidence "
                         "page), and an honest comparison says so.")
    elif better[0] == fine_tuned[0]["fraction"] and fine_tuned[-1]["verdict"] != "better":
        sentences.append("Pretraining helped where labels were scarce: it had already learned what the images look "
                         "like, so the few labels only had to say which pattern means which finding. With all the "
                         "labels, training from scratch learned the images too and caught up.")
    else:
        rest = {verdict: ", ".join(f"{c['fraction']:.0%}" for c in fine_tuned if c["verdict"] == verdict)
                for verdict in ("no detectable difference", "worse")}
        sentences.append(f"Pretraining helped detectably at {', '.join(f'{f:.0%}' for f in better)} of the labels"
                         + (f"; at {rest['no detectable difference']} there was no detectable difference"
                            if rest["no detectable difference"] else "")
                         + (f"; at {rest['worse']} it was worse" if rest["worse"] else "") + ".")
    return sentences
