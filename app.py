"""MedSSL Explorer: the Streamlit entry point. Navigation only; each page lives in pages/."""

from sslcore.training.runtime import tune_allocator

tune_allocator()  # the Lab's estimate times training steps in this process: see sslcore.training.runtime

import torch  # noqa: E402

torch.classes.__path__ = []  # keeps Streamlit's module inspection away from torch's lazy modules

import streamlit as st  # noqa: E402

st.set_page_config(page_title="MedSSL Explorer", page_icon="🩻", layout="wide")

PAGES = {
    "Start": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Learn": [st.Page("pages/learn.py", title="Learn", icon=":material/school:")],
    "Literature": [st.Page("pages/catalogue.py", title="Catalogue", icon=":material/menu_book:"),
                   st.Page("pages/evidence.py", title="Evidence", icon=":material/fact_check:")],
    "Experiments": [st.Page("pages/lab.py", title="Lab", icon=":material/science:"),
                    st.Page("pages/results.py", title="Results", icon=":material/show_chart:"),
                    st.Page("pages/compare.py", title="Comparisons", icon=":material/leaderboard:"),
                    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
                    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:")],
}

st.navigation(PAGES).run()
