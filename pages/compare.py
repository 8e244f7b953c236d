"""Comparisons: several arms on one dataset, run together, and their leaderboard."""

import json

import pandas as pd
import streamlit as st

from pages.common import visible_owner
from sslcore.evaluate.report import Curve, label_efficiency_figure
from sslcore.experiments.leaderboard import leaderboard, leaderboard_table
from sslcore.runs import RunStore
from sslcore.runs.comparisons import arm_results, cancel_comparison, get_comparison, list_comparisons

st.title("Comparisons")
st.caption("Each comparison runs several methods or initialisations on the same data: the same data seed, labelled "
           "subsets, evaluation seeds and test images, each method with its own recipe. Start one in the Lab "
           "(Compare) or with `python -m sslcore compare`.")

store = RunStore()
comparisons = list_comparisons(store, owner=visible_owner())
if not comparisons:
    st.info("No comparison yet: start one in the Lab.")
    st.page_link("pages/lab.py", label="Open the Lab", icon=":material/science:")
    st.stop()

labels = {c.id: f"#{c.id} {c.name} ({c.status})" for c in comparisons}
chosen = st.selectbox("Comparison", list(labels), format_func=labels.get)
record = get_comparison(store, chosen)
arms = st.columns(max(1, len(record.runs)))
for column, run in zip(arms, record.runs):
    column.metric(run.arm, run.status)
for arm, reason in record.config.get("unavailable", {}).items():
    st.warning(f"{arm}: not available here. {reason}.")


@st.fragment(run_every=3)
def watch(comparison_id: int, finished_before: tuple) -> None:
    """While arms run: reruns the page when one finishes, so the leaderboard fills in by itself."""
    now = tuple(sorted((run.id, run.status) for run in get_comparison(store, comparison_id).runs if run.finished))
    if now != finished_before:
        st.rerun(scope="app")


finished = tuple(sorted((run.id, run.status) for run in record.runs if run.finished))
if record.status == "running":
    st.caption("The leaderboard fills in as the arms finish (the worker runs one at a time).")
    if st.button("Cancel the whole comparison", key=f"cancel-{record.id}"):
        cancel_comparison(store, record.id)
        st.rerun()
    watch(record.id, finished)


@st.cache_data(max_entries=8, show_spinner="Pairing the arms' test scores…")
def cached_board(comparison_id: int, finished: tuple) -> dict:
    """The leaderboard, recomputed only when an arm finishes (``finished`` lists them)."""
    return leaderboard(arm_results(store, get_comparison(store, comparison_id)))


try:
    board = cached_board(record.id, finished)
except ValueError as error:
    st.error(str(error))
    st.stop()

if not board["fractions"]:
    st.info("No arm has finished yet.")
    st.stop()

st.subheader("Leaderboard")
table = leaderboard_table(board)
auc_columns = [column for column in table if column.startswith("AUC at")]
st.caption(f"Test AUC ({board['protocol']}) with its 95% interval over seeds and test images.")
st.dataframe(table[["arm", *auc_columns]], hide_index=True)
st.caption("Each arm's paired difference against training from scratch and against the best arm at the smallest "
           "label fraction, with the verdict from the interval alone (better, worse, or no detectable difference); "
           "what its pretraining cost, and whether it beat a random encoder.")
st.dataframe(table.drop(columns=auc_columns), hide_index=True)

curves = [Curve(name=arm["name"], fractions=tuple(board["fractions"]),
                values=tuple(arm["auc"][f]["mean"] for f in board["fractions"]),
                low=tuple(arm["auc"][f]["low"] for f in board["fractions"]),
                high=tuple(arm["auc"][f]["high"] for f in board["fractions"]),
                hover=tuple(f"{arm['name']}: {f:.0%} of labels, AUC {arm['auc'][f]['mean']:.3f} "
                            f"[{arm['auc'][f]['low']:.3f}, {arm['auc'][f]['high']:.3f}]" for f in board["fractions"]),
                dash="dash" if arm["name"] == "from scratch" else "solid")
          for arm in board["arms"] if arm["auc"]]
st.plotly_chart(label_efficiency_figure(curves, "auc"), key=f"board-{record.id}")

with st.expander("Every paired difference"):
    st.dataframe(pd.DataFrame(board["comparisons"]), hide_index=True)

left, right = st.columns(2)
left.download_button("Leaderboard (CSV)", table.to_csv(index=False), file_name=f"comparison{record.id}.csv",
                     mime="text/csv", on_click="ignore")
right.download_button("Comparison config (JSON)", json.dumps(record.config, indent=2),
                      file_name=f"comparison{record.id}.json", mime="application/json", on_click="ignore")
