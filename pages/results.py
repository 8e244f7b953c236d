"""Results: how far a few labels go after pretraining, against the baselines and published numbers."""

import pandas as pd
import streamlit as st

from pages.common import no_runs, run_label
from sslcore.catalogue.published import published_for, reference_dataset_id
from sslcore.evaluate.report import BANDS, curve_summary, label_efficiency_figure, run_curves
from sslcore.evaluate.vocabulary import METRIC_NAMES
from sslcore.runs import RunStore

st.title("Results")
st.caption("Label-efficiency curves: the test score of a classifier trained on a fraction of the labels, "
           "on top of the pretrained backbone, against the same network trained from scratch "
           "(supervised) and a frozen random one.")

store = RunStore()
runs = [run for run in store.list_runs() if store.points(run.id)]
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

points = {run_id: store.points(run_id) for run_id in chosen}
curves = {labels[run_id]: curve_summary(points[run_id], metric, band) for run_id in chosen}
datasets = {reference_dataset_id(store.get(run_id).dataset) for run_id in chosen}
image_sizes = {store.get(run_id).config.get("image_size") for run_id in chosen}
protocols = sorted({p["protocol"] for run_points in points.values() for p in run_points})
published = []
if len(datasets) == 1:
    reference_protocol = st.selectbox("Published numbers for the protocol", protocols)
    published = published_for(next(iter(datasets)), protocol=reference_protocol, metric=metric,
                              image_size=next(iter(image_sizes)) if len(image_sizes) == 1 else None)
else:
    st.caption("Published reference numbers are shown when the chosen runs share one dataset.")

st.plotly_chart(label_efficiency_figure(run_curves(curves, metric, band), metric, published), key="curves")
if published:
    st.caption(f"Stars: {sum(value.fraction is not None for value in published)} published numbers for this "
               "dataset, protocol and image size (source and confidence on hover; full list on the Evidence page).")

st.subheader("Points")
st.dataframe(pd.concat([pd.DataFrame(points[run_id]).assign(run=run_id) for run_id in chosen], ignore_index=True),
             hide_index=True)

st.subheader("Downloads")
for run_id in chosen:
    st.text(labels[run_id])
    columns = st.columns(3)
    for column, (name, mime) in zip(columns, [("curve.csv", "text/csv"), ("config.yaml", "application/yaml"),
                                              ("checkpoint.pt", "application/octet-stream")]):
        path = store.artifact_path(run_id, name)
        if path.exists():
            # A callable reads the file only when clicked: checkpoints can be large.
            column.download_button(name, path.read_bytes, file_name=f"run{run_id}_{name}", mime=mime,
                                   on_click="ignore", key=f"download-{run_id}-{name}")
        else:
            column.caption(f"{name}: not written (yet)")
