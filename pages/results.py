"""Results: how far a few labels go after pretraining, against the baselines and published numbers."""

import json

import pandas as pd
import streamlit as st

from pages.common import no_runs, run_label, visible_runs
from sslcore.catalogue.published import published_for, reference_dataset_id
from sslcore.evaluate.report import (BANDS, comparison_table, curve_summary, headline_comparison,
                                     label_efficiency_figure, learning_check, run_curves)
from sslcore.evaluate.vocabulary import METRIC_NAMES
from sslcore.runs import RunStore

st.title("Results")
st.caption("Label-efficiency curves: the test score of a classifier trained on a fraction of the labels, "
           "on top of the pretrained backbone, against the same network trained from scratch with the same "
           "budget and augmentation (supervised) and a frozen random one. Differences are paired: the same "
           "labelled subsets and test images for both sides.")

store = RunStore()
runs = [run for run in visible_runs(store) if store.points(run.id)]
if not runs:
    no_runs("No run has evaluation points yet")

labels = {run.id: run_label(run) for run in runs}
chosen = st.multiselect("Runs", list(labels), default=[runs[0].id], format_func=labels.get)
left, right = st.columns(2)
metric = left.selectbox("Metric", list(METRIC_NAMES), format_func=METRIC_NAMES.get)
band = right.selectbox("Band over seeds", BANDS,
                       format_func={"std": "mean ± 1 standard deviation", "min-max": "min to max"}.get)
if not chosen:
    st.stop()

by_id = {run.id: run for run in runs}
records = {run_id: by_id[run_id] for run_id in chosen}
points = {run_id: store.points(run_id) for run_id in chosen}
curves = {labels[run_id]: curve_summary(points[run_id], metric, band) for run_id in chosen}
fingerprints = {run_id: (record.result or {}).get("test_sha256") for run_id, record in records.items()}
shared = len(chosen) == 1 or (None not in fingerprints.values() and len(set(fingerprints.values())) == 1)
if not shared:
    st.warning("These runs were not scored on the same test set (their test fingerprints differ, or a run "
               "recorded none), so they are not drawn as comparable: each run has its own chart below.")

datasets = {reference_dataset_id(record.dataset) for record in records.values()}
image_sizes = {record.config.get("image_size") for record in records.values()}
image_size = next(iter(image_sizes)) if len(image_sizes) == 1 else None
published = []
if len(datasets) == 1 and published_for(next(iter(datasets)), metric=metric, image_size=image_size):
    protocols = sorted({p["protocol"] for run_points in points.values() for p in run_points})
    reference_protocol = st.selectbox("Published numbers for the protocol", protocols)
    published = published_for(next(iter(datasets)), protocol=reference_protocol, metric=metric, image_size=image_size)

if shared:
    st.plotly_chart(label_efficiency_figure(run_curves(curves, metric, band), metric, published), key="curves")
else:
    for run_id in chosen:
        st.markdown(f"**{labels[run_id]}**")
        st.plotly_chart(label_efficiency_figure(run_curves({labels[run_id]: curves[labels[run_id]]}, metric, band),
                                                metric, published), key=f"curves-{run_id}")
st.caption("Line colour: the method (baselines grey); line style: solid fine-tuned, dashed linear probe, dotted kNN.")
if published:
    st.caption(f"Stars: {sum(value.fraction is not None for value in published)} published numbers for this "
               "dataset, protocol and image size (source and confidence on hover; full list on the Evidence page).")

st.subheader("What pretraining changed, with its uncertainty")
st.caption("Each row: the method's test AUC minus its like-for-like baseline's (fine-tuning against training from "
           "scratch; a frozen probe against the same probe on the random encoder), averaged over seeds, with a 95% "
           "interval from a paired bootstrap over seeds and test images. The verdict follows the interval alone: "
           "above zero better, below zero worse, otherwise no detectable difference.")
for run_id in chosen:
    path = store.artifact_path(run_id, "comparisons.json")
    if len(chosen) > 1:
        st.markdown(f"**{labels[run_id]}**")
    if not path.exists():
        st.caption("This run recorded no paired comparisons (it is still running, or was made by an older version).")
        continue
    learning = learning_check(points[run_id])
    if learning is not None and not learning["beat_random"]:
        st.warning(learning["sentence"] + " Likely causes: " + "; ".join(learning["causes"]) + ".")
    comparisons = json.loads(path.read_text(encoding="utf-8"))
    sentence = headline_comparison(comparisons)
    if sentence:
        st.info(sentence)
    st.dataframe(comparison_table(comparisons), hide_index=True,
                 column_config={"fraction": st.column_config.NumberColumn(format="percent"),
                                "AUC difference": st.column_config.NumberColumn(format="%+.3f")})

st.subheader("Points")
st.dataframe(pd.concat([pd.DataFrame(points[run_id]).assign(run=run_id) for run_id in chosen], ignore_index=True),
             hide_index=True)

st.subheader("Downloads")
for run_id in chosen:
    st.text(labels[run_id])
    columns = st.columns(4)
    for column, (name, mime) in zip(columns, [("curve.csv", "text/csv"), ("comparisons.json", "application/json"),
                                              ("config.yaml", "application/yaml"),
                                              ("checkpoint.pt", "application/octet-stream")]):
        path = store.artifact_path(run_id, name)
        if path.exists():
            # A callable reads the file only when clicked: checkpoints can be large.
            column.download_button(name, path.read_bytes, file_name=f"run{run_id}_{name}", mime=mime,
                                   on_click="ignore", key=f"download-{run_id}-{name}")
        else:
            column.caption(f"{name}: not written (yet)")
