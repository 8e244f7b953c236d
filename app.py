"""MedSSL Explorer: the Streamlit entry point. Navigation only; each page lives in pages/."""

import streamlit as st

st.set_page_config(page_title="MedSSL Explorer", page_icon="🩻", layout="wide")

PAGES = {
    "Start": [st.Page("pages/home.py", title="Home", icon="🏠", default=True)],
    "Literature": [st.Page("pages/catalogue.py", title="Catalogue", icon="📚")],
}

st.navigation(PAGES).run()
