"""Runs: every experiment with its status and headline number; compare, replay, cancel or delete them.
In classroom mode a session sees only its own runs, unless the teacher's view is on."""

import pandas as pd
import streamlit as st

from pages.common import no_runs, run_label, teacher_key_box, visible_owner, visible_runs
from sslcore.evaluate.report import curve_summary, label_efficiency_figure, run_curves
from sslcore.evaluate.vocabulary import METRIC_NAMES
from sslcore.runs import RunStore
from sslcore.runs.configs import config_diff, replay_command

st.title("Runs")
teacher_key_box()
store = RunStore()
owner = visible_owner()  # None: every run (outside classroom mode, or the teacher's view)
every_run = visible_runs(store)
if not every_run:
    no_runs("No runs yet")

ALL = "all"
left, middle, right = st.columns(3)
status = left.selectbox("Status", [ALL, *sorted({run.status for run in every_run})])
dataset = middle.selectbox("Dataset", [ALL, *sorted({run.dataset for run in every_run if run.dataset})])
method = right.selectbox("Method", [ALL, *sorted({run.method for run in every_run if run.method})])
runs = visible_runs(store, **{key: None if value == ALL else value
                              for key, value in (("status", status), ("dataset", dataset), ("method", method))})

table = pd.DataFrame(
    [{"id": run.id, "name": run.name, "status": run.state, "dataset": run.dataset, "method": run.method,
      "backbone": run.config.get("backbone"), "created": pd.to_datetime(run.created_at, unit="s"),
      "headline": run.headline_name, "value": run.headline_value,
      "beat random encoder": ((run.result or {}).get("learning") or {}).get("beat_random")} for run in runs],
    columns=["id", "name", "status", "dataset", "method", "backbone", "created", "headline", "value",
             "beat random encoder"])
st.dataframe(table, hide_index=True,
             column_config={"value": st.column_config.NumberColumn(format="%.3f"),
                            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                            "beat random encoder": st.column_config.CheckboxColumn(
                                help="Whether pretraining beat a frozen random network on validation (empty: "
                                     "not measured); a run that did not learned nothing the probes can use")})
names = {run.id: run_label(run, details=False) for run in runs}
selected = st.multiselect("Runs to compare, replay, cancel or delete", list(names), format_func=names.get)
if not selected:
    st.stop()
records = {run.id: run for run in runs}

configs, curves, replay, cancel, delete = st.tabs(["Configs", "Curves", "Replay", "Cancel", "Delete"])

with configs:
    only_different = st.checkbox("Only the settings that differ", value=len(selected) > 1)
    st.dataframe(config_diff({names[run_id]: records[run_id].config for run_id in selected},
                             only_different=only_different))

with curves:
    metric = st.selectbox("Metric", list(METRIC_NAMES), format_func=METRIC_NAMES.get, key="runs_metric")
    for column, run_id in zip(st.columns(len(selected)), selected):
        column.text(names[run_id])
        points = store.points(run_id)
        if points:
            column.plotly_chart(label_efficiency_figure(run_curves({names[run_id]: curve_summary(points, metric)}), metric),
                                key=f"curve-{run_id}")
        else:
            column.caption("no evaluation points yet")

with replay:
    st.caption("Each run saved its full config; this command runs the same experiment from a shell.")
    for run_id in selected:
        st.text(names[run_id])
        st.code(replay_command(store.artifact_path(run_id, "config.yaml")), language="bash")

with cancel:
    active = [run_id for run_id in selected if not records[run_id].finished]
    if not active:
        st.caption("None of the selected runs is waiting or running.")
    elif st.button(f"Cancel {len(active)} run(s)", key="cancel_runs"):
        for run_id in active:
            store.request_cancel(run_id, owner=owner)
        st.rerun()

with delete:
    st.warning(f"Deleting removes {len(selected)} run(s) with their checkpoints and results, for good.")
    confirmed = st.checkbox("Yes, delete the selected runs", key="confirm_delete")
    if st.button("Delete", type="primary", disabled=not confirmed):
        try:
            for run_id in selected:
                store.delete(run_id, owner=owner)
        except ValueError as error:  # a running run: it must be cancelled first
            st.error(str(error))
        else:
            st.session_state.pop("confirm_delete")
            st.rerun()
