"""MedSSL Explorer: the Streamlit entry point. Navigation, and one sentence for an error a page did
not handle (its traceback goes to the server log); each page lives in pages/."""

from sslcore.training.runtime import tune_allocator

tune_allocator()  # the Lab's estimate times training steps in this process: see sslcore.training.runtime

import torch  # noqa: E402

torch.classes.__path__ = []  # keeps Streamlit's module inspection away from torch's lazy modules

import streamlit as st  # noqa: E402
from streamlit.errors import FragmentHandledException  # noqa: E402

from pages.common import session_owner, show_error  # noqa: E402

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

page = st.navigation(PAGES)
try:
    session_owner()  # classroom mode: this session's workspace, kept in the address across reloads
    page.run()
except FragmentHandledException:  # an inline fragment's error, already shown by Streamlit
    raise
except Exception as error:  # what a page did not handle: one sentence here, the traceback in the log
    show_error(error, f"running {page.title}")
