"""Small helpers the pages share: how a run is named in a list, and what a page says without runs."""

import streamlit as st


def run_label(run, *, details: bool = True) -> str:
    """``#3 byol on synthetic (byol on synthetic, succeeded)``: a run as lists and pickers name it."""
    label = f"#{run.id} {run.name}"
    if not details:
        return label
    parts = [f"{run.method} on {run.dataset}" if run.method else None, run.status]
    return f"{label} ({', '.join(part for part in parts if part)})"


def no_runs(what: str) -> None:
    """Say that there is nothing to show yet, point to the Lab, and stop the page."""
    st.info(f"{what}: start one in the Lab.")
    st.page_link("pages/lab.py", label="Open the Lab", icon=":material/science:")
    st.stop()
