"""Home: what MedSSL Explorer is, and where to start."""

import streamlit as st

from pages.common import classroom_mode

st.title("MedSSL Explorer")
if classroom_mode():
    st.info("Classroom mode: your runs and uploads are private to this browser tab's workspace (its address "
            "keeps it across reloads), and each of you may have a few runs waiting at a time.")
st.markdown(
    "Self-supervised learning (SSL) lets a network learn what medical images look like from "
    "**unlabelled** scans, so that a few expert labels go further. MedSSL Explorer helps you "
    "understand, compare and try it for medical image classification."
)

st.subheader("Where to start")
researchers, clinicians, teachers = st.columns(3)
with researchers:
    st.markdown("**Researchers**: find what has been published for your modality and method, then "
                "pretrain on your own images and compare label-efficiency curves against baselines.")
    st.page_link("pages/catalogue.py", label="Browse the study catalogue", icon=":material/menu_book:")
    st.page_link("pages/evidence.py", label="Published numbers by dataset", icon=":material/fact_check:")
    st.page_link("pages/lab.py", label="Run an experiment", icon=":material/science:")
with clinicians:
    st.markdown("**Clinicians**: what SSL does, in pictures you can play with, and the families of "
                "methods in plain language with the studies that use them.")
    st.page_link("pages/learn.py", label="Self-supervised learning in pictures", icon=":material/school:")
    st.page_link("pages/catalogue.py", label="SSL strategies and their studies", icon=":material/account_tree:")
with teachers:
    st.markdown("**Teachers**: the built-in *synthetic* chest radiographs work offline; the Lab's quick CPU "
                "demo takes a few minutes on two CPU cores and says how long on this machine before it starts.")
    st.page_link("pages/learn.py", label="A lesson with images to play with", icon=":material/school:")
    st.page_link("pages/lab.py", label="Start a quick demo run", icon=":material/play_circle:")

st.caption(
    "The catalogue covers the scope of two systematic reviews: Huang et al. 2023 (npj Digital "
    "Medicine 6:74) and Zeng et al. 2024 (BioMedical Engineering OnLine). Every study in it was "
    "checked against at least one readable source."
)
