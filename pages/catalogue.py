"""Catalogue: search, filter, chart, import and export the published SSL studies in medical imaging."""

import re

import pandas as pd
import streamlit as st

from sslcore.catalogue import (MAX_IMPORT_BYTES, Filters, export_csv, facet_counts, import_bibtex,
                               load_catalogue, load_taxonomy, remove_user_studies, to_bibtex)
from sslcore.catalogue import charts

# Facet widgets in the sidebar: facet -> (label, annotation column used for display labels or None).
FACET_WIDGETS = {"modality": ("Modality", "modality"), "anatomy": ("Anatomy", "anatomy"),
                 "task": ("Task", "task"), "strategy": ("SSL strategy", "ssl_strategy"),
                 "method": ("Method family", None)}


def escape_markdown(text: str) -> str:
    """Text from a BibTeX file shown literally inside markdown (no bold, links or HTML)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&])", r"\\\1", text)


taxonomy = load_taxonomy()
catalogue = load_catalogue()
st.title("Study catalogue")
st.caption(f"{len(catalogue)} published studies of self-supervised learning in medical imaging, in the scope "
           "of the systematic reviews of Huang et al. 2023 (npj Digit Med 6:74) and Zeng et al. 2024 "
           "(BioMed Eng OnLine). Claims are short paraphrases; open the paper before citing a number.")
for warning in catalogue.warnings:
    st.warning(warning)

# A click on a heatmap cell becomes the modality and strategy filters (applied before the widgets exist).
heatmap_points = st.session_state.get("heatmap", {}).get("selection", {}).get("points", [])
if heatmap_points and heatmap_points != st.session_state.get("applied_cell"):
    st.session_state.applied_cell = heatmap_points
    point = heatmap_points[0]
    by_label = {column: {taxonomy.label(column, value): value
                         for value in [*taxonomy.vocabulary(column), ""]} for column in ("modality", "ssl_strategy")}
    st.session_state.f_modality = [by_label["modality"].get(point.get("y"), point.get("y"))]
    st.session_state.f_strategy = [by_label["ssl_strategy"].get(point.get("x"), point.get("x"))]

all_counts = facet_counts(catalogue.studies)
# A link from another page (the Learn page's ?strategy=contrastive) presets the strategy filter on first load.
if "f_strategy" not in st.session_state:
    linked = [value for value in st.query_params.get_all("strategy") if value in all_counts["strategy"]]
    if linked:
        st.session_state.f_strategy = linked
years = [year for year in all_counts["year"] if year]
with st.sidebar:
    query = st.text_input("Search", key="query", placeholder="e.g. moco chest",
                          help="Title, authors, venue, method, claim and pretraining data; every word must match.")
    selected = {}
    for facet, (label, column) in FACET_WIDGETS.items():
        options = sorted(all_counts[facet], key=lambda v: (-all_counts[facet][v], v))
        selected[facet] = st.multiselect(
            label, options, key=f"f_{facet}",
            format_func=lambda v, c=column: taxonomy.label(c, v) if c else v)
    year_from, year_to = st.slider("Years", min(years), max(years), (min(years), max(years)), key="f_years")
    if all_counts["review"]:
        selected["review"] = st.multiselect("In systematic review", sorted(all_counts["review"]), key="f_review")
    if all_counts["source"]["user"]:
        selected["source"] = st.multiselect("Source", ["shipped", "user"], key="f_source",
                                            format_func={"shipped": "shipped with the app",
                                                         "user": "added by me"}.get)

filters = Filters(**selected, year_from=year_from if year_from > min(years) else None,
                  year_to=year_to if year_to < max(years) else None)
results = catalogue.search(query, filters)
st.metric("Studies found", f"{len(results)} of {len(catalogue)}")

studies_tab, charts_tab, taxonomy_tab, import_tab = st.tabs(
    ["Studies", "Charts", "SSL strategies explained", "Import / export"])

with studies_tab:
    if not results:
        st.info("No study matches: remove a word or a filter.")
    table = pd.DataFrame({
        "Title": [s.title for s in results], "Year": [s.year for s in results],
        "Modality": [taxonomy.label("modality", s.modality) for s in results],
        "Strategy": [taxonomy.label("ssl_strategy", s.ssl_strategy) for s in results],
        "Method": [s.ssl_method for s in results],
        "Task": [taxonomy.label("task", s.task) for s in results],
        "Venue": [s.venue for s in results],
        "DOI": [s.doi_url or None for s in results], "arXiv": [s.arxiv_url or None for s in results]})
    if any(s.user_added for s in catalogue.studies):
        table["Added by me"] = [s.user_added for s in results]
    st.dataframe(table, hide_index=True, use_container_width=True, column_config={
        "Title": st.column_config.TextColumn(width="large"),
        "Method": st.column_config.TextColumn(width="small"),
        "Venue": st.column_config.TextColumn(width="small"),
        "Year": st.column_config.NumberColumn(format="%d"),
        "DOI": st.column_config.LinkColumn(display_text=r"https://doi\.org/(.*)"),
        "arXiv": st.column_config.LinkColumn(display_text=r"https://arxiv\.org/abs/(.*)")})

    if results:
        st.subheader("Study details")
        titles = {s.key: f"{s.title} ({s.year or 'n.d.'})" for s in results}
        key = st.selectbox("Study", list(titles), format_func=titles.get, key="detail")
        study = catalogue.get(key)
        st.markdown(f"#### {escape_markdown(study.title)}")
        details = {
            "Key": study.key, "Authors": "; ".join(study.authors), "Year": str(study.year or ""),
            "Venue": study.venue, "DOI": study.doi, "arXiv": study.arxiv_id, "URL": study.url,
            "Modality": taxonomy.label("modality", study.modality),
            "Anatomy": taxonomy.label("anatomy", study.anatomy),
            "Task": taxonomy.label("task", study.task),
            "SSL strategy": taxonomy.label("ssl_strategy", study.ssl_strategy),
            "Method": study.ssl_method, "Method families": ", ".join(study.method_families),
            "Pretraining data": study.pretrain_data, "Claim (paraphrased)": study.claim,
            "In systematic review": study.known_in_review, "Verified by": study.verified_by,
            "Source": "added by me" if study.user_added else "shipped with the app"}
        st.dataframe(pd.DataFrame({"Field": list(details), "Value": list(details.values())}),
                     hide_index=True, use_container_width=True, height=35 * (len(details) + 1) + 3)
        st.caption("BibTeX (copy with the button at the top right)")
        st.code(to_bibtex([study]), language="latex")
        if study.user_added and st.button("Remove this study from my catalogue", key="remove"):
            remove_user_studies([study.key])
            st.rerun()

with charts_tab:
    if results:
        st.plotly_chart(charts.studies_per_year(results, taxonomy), use_container_width=True)
        st.plotly_chart(charts.modality_strategy_heatmap(results, taxonomy), use_container_width=True,
                        on_select="rerun", selection_mode="points", key="heatmap")
        st.plotly_chart(charts.top_methods(results), use_container_width=True)
    else:
        st.info("No study to chart.")

with taxonomy_tab:
    st.markdown("Self-supervised learning (SSL) pretrains a network on unlabelled images by giving it a task "
                "whose answer comes from the images themselves. The studies use five families of tasks:")
    for value, term in taxonomy.strategies.items():
        members = [s for s in results if s.ssl_strategy == value]
        st.subheader(f"{term.label} ({len(members)} in the current result)")
        st.write(term.explanation)
        if members:
            with st.expander(f"Studies using {term.label.lower()} SSL"):
                st.dataframe(pd.DataFrame({"Title": [s.title for s in members], "Year": [s.year for s in members],
                                           "Method": [s.ssl_method for s in members]}),
                             hide_index=True, use_container_width=True)
    with st.expander("Modalities, body regions and tasks"):
        for section, terms in (("Modalities", taxonomy.modalities), ("Body regions", taxonomy.anatomies),
                               ("Tasks", taxonomy.tasks)):
            st.markdown(f"**{section}**")
            st.dataframe(pd.DataFrame({"Term": [t.label for t in terms.values()],
                                       "Meaning": [t.explanation for t in terms.values()]}),
                         hide_index=True, use_container_width=True)

with import_tab:
    st.subheader("Export the current view")
    left, right = st.columns(2)
    left.download_button("Download BibTeX (.bib)", to_bibtex(results), file_name="medssl_studies.bib",
                         mime="application/x-bibtex", disabled=not results)
    right.download_button("Download table (.csv)", export_csv(results), file_name="medssl_studies.csv",
                          mime="text/csv", disabled=not results)

    st.subheader("Import your own references")
    st.caption(f"Entries go to your own layer of the catalogue (the shipped studies are never changed). "
               f"Duplicates are recognised by DOI, arXiv id, then title. Files up to "
               f"{MAX_IMPORT_BYTES // 2**20} MB, UTF-8. The optional CSV has a 'key' column and any of: "
               "modality, anatomy, task, ssl_strategy, ssl_method, pretrain_data, claim.")
    bib_upload = st.file_uploader("BibTeX file", type=["bib", "bibtex", "txt"], key="bib_upload")
    csv_upload = st.file_uploader("Annotations (optional CSV)", type=["csv"], key="csv_upload")
    if st.button("Import", disabled=bib_upload is None, type="primary"):
        try:
            st.session_state.import_report = import_bibtex(
                bib_upload.getvalue(), csv_upload.getvalue() if csv_upload else None)
        except ValueError as error:
            st.session_state.import_report = None
            st.error(str(error))
    report = st.session_state.get("import_report")
    if report is not None:
        (st.success if report.read_anything else st.error)(report.summary())
        if report.added:
            st.dataframe(pd.DataFrame({"Added": [s.key for s in report.added],
                                       "Title": [s.title for s in report.added]}), hide_index=True)
        if report.duplicates:
            st.dataframe(pd.DataFrame({"Already in the catalogue": [d.key for d in report.duplicates],
                                       "Same as": [d.existing_key for d in report.duplicates],
                                       "Matched by": [d.matched_by for d in report.duplicates]}), hide_index=True)
        if report.rejected:
            st.dataframe(pd.DataFrame({"Rejected": [r.where for r in report.rejected],
                                       "Reason": [r.reason for r in report.rejected]}), hide_index=True)
