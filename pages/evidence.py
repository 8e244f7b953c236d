"""Evidence: what papers published, by dataset, method, protocol and label fraction, each with its source."""

import streamlit as st

from pages.common import run_label
from sslcore.catalogue import published
from sslcore.evaluate.report import beside_published, label_efficiency_figure, published_curves
from sslcore.runs import RunStore

st.title("Evidence")
st.caption(
    "Every number below was copied from the linked source. Values are shown as fractions (0-1) so that "
    "they compare: MedMNIST v2 published fractions, MedMNIST+ and most ImageNet papers percentages; "
    "the 'published' column keeps the number as written, with its unit. Confidence: high = copied from "
    "a table or text, medium = a claim whose comparator or source is less certain, low = read off a plot "
    "(about ±0.005). Protocols: finetune trains the whole network (supervised models trained from "
    "scratch count here), linear and knn train on frozen features.")

frame = published.published_frame()
# The source column shows the site (the full address on hover); long dataset, method and metric names are cut
# to a set width, whole on hover, so that the value and its source stay on screen.
SOURCE = st.column_config.LinkColumn("source", display_text=r"https?://(?:www\.)?([^/]+)", width="small")
# What a reader needs first: which number, for what, and where it comes from; the rest on demand.
MAIN_COLUMNS = ["dataset", "method", "protocol", "fraction", "metric", "value", "url"]
MORE_COLUMNS = ["original_value", "unit", "confidence", "paper", "year", "table_or_figure", "backbone", "image_size",
                "eval_protocol", "baseline", "dataset_id", "method_id"]
COLUMN_CONFIG = {
    "url": SOURCE,
    "dataset": st.column_config.TextColumn("dataset", width="medium"),
    "method": st.column_config.TextColumn("method", width="medium"),
    "metric": st.column_config.TextColumn("metric", width="medium"),
    "original_value": st.column_config.TextColumn("published"),
    "fraction": st.column_config.NumberColumn("label fraction", format="percent"),
    "image_size": st.column_config.NumberColumn("image size", format="%d px"),
}

more = st.multiselect("More columns in the tables", MORE_COLUMNS, key="evidence-columns", placeholder="none",
                      help="The tables show each number's dataset, method, protocol, label fraction, metric, value "
                           "and source; add the published value with its unit, the confidence, the paper, the "
                           "backbone and the rest here.")
COLUMNS = MAIN_COLUMNS + more

browse, curves_tab, benchmarks, yours = st.tabs(["Browse", "Label-efficiency curves", "MedMNIST benchmarks",
                                                  "Your runs beside them"])

with browse:
    filters = {
        "dataset_id": "Dataset", "method_id": "Method", "protocol": "Protocol",
        "metric_id": "Metric", "fraction": "Label fraction"}
    shown = frame
    for (column, name), widget in zip(filters.items(), st.columns(len(filters))):
        options = sorted(frame[column].dropna().unique())
        chosen = widget.multiselect(name, options, placeholder="all", key=f"filter-{column}",
                                    format_func="{:.1%}".format if column == "fraction" else str)
        if chosen:
            shown = shown[shown[column].isin(chosen)]
    st.caption(f"{len(shown)} of {len(frame)} published numbers")
    st.dataframe(shown, hide_index=True, column_order=COLUMNS, column_config=COLUMN_CONFIG)

with curves_tab:
    st.caption("Where a paper reports several label fractions for one method, its numbers form a curve. "
               "Dotted: values read off a plot (confidence low).")
    metrics = [metric for metric in published.METRIC_IDS if published.label_efficiency_curves(metric=metric)]
    metric = st.selectbox("Metric", metrics, key="curve-metric")
    curves = published.label_efficiency_curves(metric=metric)
    st.plotly_chart(label_efficiency_figure(published_curves(curves), metric, y_title=f"{metric} (fraction)"),
                    key="curves")
    points = published.published_frame(value for series in curves.values() for value in series)
    st.dataframe(points, hide_index=True, column_order=COLUMNS, column_config=COLUMN_CONFIG)

with benchmarks:
    papers = {published.MEDMNIST_V2: "MedMNIST v2 (Yang et al. 2023): supervised and AutoML, 28x28",
              published.MEDMNIST_PLUS: "MedMNIST+ (Doerrich et al. 2025): ImageNet and DINO pretraining"}
    key = st.radio("Benchmark", list(papers), format_func=papers.get, horizontal=True)
    rows = frame[frame["key"] == key]
    left, middle, right = st.columns(3)
    protocol = left.selectbox("Protocol", sorted(rows["protocol"].unique()), key="bench-protocol")
    image_size = middle.selectbox("Image size", sorted(rows["image_size"].unique()), key="bench-size",
                                  format_func=lambda size: f"{size:.0f} px")
    available = sorted(rows[rows["protocol"] == protocol]["metric_id"].unique())
    metric = right.selectbox("Metric", available, key="bench-metric")
    table = published.benchmark_table(key, metric, protocol=protocol, image_size=int(image_size))
    st.caption("Rows: datasets; columns: methods; values as fractions (0-1). The table below gives each "
               "value's source, confidence and published unit.")
    st.dataframe(table.values)
    st.dataframe(table.sources, hide_index=True, column_config={"url": SOURCE})
    if key == published.MEDMNIST_V2:
        with st.expander("The 12 MedMNIST v2 datasets"):
            st.dataframe(list(published.medmnist_datasets()), hide_index=True,
                         column_order=["dataset", "modality", "task", "n_classes", "n_train", "n_val", "n_test",
                                       "n_channels", "licence", "source_data", "metadata_source"])

with yours:
    store = RunStore()
    known = set(frame["dataset_id"])
    runs = [run for run in store.list_runs(status="succeeded")
            if run.dataset and published.reference_dataset_id(run.dataset) in known]
    if not runs:
        st.info("None of your finished runs is on a dataset with published numbers (a MedMNIST dataset such as "
                "PneumoniaMNIST). Start one in the Lab to compare it here.")
    else:
        names = {run.id: run_label(run) for run in runs}
        left, middle, right = st.columns(3)
        run = store.get(left.selectbox("Run", list(names), format_func=names.get, key="yours-run"))
        points = store.points(run.id)
        protocol = middle.selectbox("Protocol", sorted({p["protocol"] for p in points}), key="yours-protocol")
        metric = right.selectbox("Metric", ["auc", "acc"], key="yours-metric")
        dataset_id = published.reference_dataset_id(run.dataset)
        image_size = run.config.get("image_size")
        st.caption(f"{dataset_id} at {image_size} px, {protocol}: the run's mean over seeds (spread: one standard "
                   "deviation), then every published number for the same dataset, protocol and image size. The "
                   "supervised rows of papers are models trained from scratch on all labels.")
        st.dataframe(beside_published(points, dataset_id, protocol, metric, image_size), hide_index=True,
                     column_config={"url": SOURCE,
                                    "fraction": st.column_config.NumberColumn("label fraction", format="percent")})
