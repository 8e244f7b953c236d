"""Embeddings: where a run's network puts the test images, before and after pretraining."""

import streamlit as st

from pages.common import no_runs, run_label, visible_runs
from sslcore.data.samples import displayable
from sslcore.evaluate.embeddings import (EMBEDDING_SELECTION, embedding_chart, embedding_table, load_embeddings,
                                        nearest_neighbours, pca, separation_sentence, thumbnails, umap)
from sslcore.runs import RunStore

COLOURS = {"class": "class", "split": "split", "patient": "patient", "labelled": "labelled subset"}
N_NEIGHBOURS = 8


@st.cache_data(max_entries=8, show_spinner=False)
def embeddings(path: str, modified: float) -> dict:
    return load_embeddings(path)


@st.cache_data(max_entries=16, show_spinner=False)
def projection(path: str, modified: float, which: str, kind: str):
    """2-D coordinates of the ``which`` features; cached per run file, so UMAP is fitted once per run."""
    features = embeddings(path, modified)[which]
    return pca(features) if kind == "PCA" else umap(features)


st.title("Embeddings")
st.caption("Each dot is an image (a sample of the training and test splits), placed by the features the network "
           "computes for it. Pretraining is "
           "useful when images of the same class end up close together before any label is used.")
store = RunStore()
runs = [run for run in visible_runs(store, status="succeeded")
        if store.artifact_path(run.id, "embeddings.npz").exists()]
if not runs:
    no_runs("No finished run has embeddings yet")

names = {run.id: run_label(run) for run in runs}
run_id = st.selectbox("Run", list(names), format_func=names.get)
path = store.artifact_path(run_id, "embeddings.npz")
modified = path.stat().st_mtime
try:
    data = embeddings(str(path), modified)
except ValueError as error:
    st.error("This run's embeddings cannot be shown:")
    st.text(str(error))
    st.stop()
table = embedding_table(data)
left, right = st.columns(2)
colour_by = left.selectbox("Colour by", list(COLOURS), format_func=COLOURS.get)
use_umap = right.toggle("UMAP", help="Keeps neighbourhoods rather than global distances. Its first fit compiles "
                                     "for about a minute; PCA is shown meanwhile. Cached per run.")

plots = st.empty()


@st.cache_data(max_entries=4, show_spinner=False)
def hover_images(path: str, modified: float) -> list[str] | None:
    data = embeddings(path, modified)
    return thumbnails(data["images"]) if "images" in data else None


def draw(kind: str) -> list[int]:
    """Before and after side by side; returns the indices of the images clicked in either chart."""
    picked = []
    with plots.container():
        for column, (which, title) in zip(st.columns(2), [("features_before", "before pretraining (random weights)"),
                                                           ("features_after", "after pretraining")]):
            coordinates = projection(str(path), modified, which, kind)
            chart = embedding_chart(coordinates, table, colour_by, f"{kind}, {title}",
                                        hover_images(str(path), modified))
            state = column.altair_chart(chart, key=f"{kind}-{which}-{run_id}", on_select="rerun")
            picked += [point["index"] for point in state.selection.get(EMBEDDING_SELECTION, [])]
    return picked


separation = ((next(run for run in runs if run.id == run_id).result or {}).get("separation") or {})
sentence = separation_sentence(separation.get("before"), separation.get("after"))
if sentence:
    st.info(sentence)

picked = draw("PCA")
if use_umap:
    with st.spinner("Fitting UMAP (the first fit compiles for about a minute)…"):
        picked = draw("UMAP")

st.subheader("Selected image and its nearest neighbours")
if not picked:
    st.caption("Hover over a dot to see its image; click it to see its nearest neighbours after pretraining.")
    st.stop()
index = int(picked[0])
neighbours = nearest_neighbours(data["features_after"], index, k=N_NEIGHBOURS)
rows = table.iloc[[index, *neighbours]]
captions = [f"#{row['index']}: {row['class']}" for _, row in rows.iterrows()]
if "images" in data:
    st.image(list(displayable(data["images"][[index, *neighbours]])), caption=captions, width=96)
else:
    st.dataframe(rows, hide_index=True)
agreeing = int((rows["class"].iloc[1:] == rows["class"].iloc[0]).sum())
st.caption(f"{agreeing} of its {len(neighbours)} nearest neighbours (cosine, after pretraining) share its class.")
