"""Home: what MedSSL Explorer is, and where to start."""

import streamlit as st

st.title("MedSSL Explorer")
st.markdown(
    "Self-supervised learning (SSL) lets a network learn what medical images look like from "
    "**unlabelled** scans, so that a few expert labels go further. MedSSL Explorer helps you "
    "understand, compare and try it for medical image classification."
)

st.subheader("Where to start")
left, right = st.columns(2)
with left:
    st.markdown("**Researchers**: find what has been published for your modality and method.")
    st.page_link("pages/catalogue.py", label="Browse the study catalogue", icon="📚")
with right:
    st.markdown("**Clinicians and teachers**: the catalogue's taxonomy tab explains each family of "
                "SSL methods in plain language, with the studies that use it.")
    st.page_link("pages/catalogue.py", label="SSL strategies explained", icon="🧭")

st.caption(
    "The catalogue covers the scope of two systematic reviews: Huang et al. 2023 (npj Digital "
    "Medicine 6:74) and Zeng et al. 2024 (BioMedical Engineering OnLine). Every study in it was "
    "checked against at least one readable source."
)
