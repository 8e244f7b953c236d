"""Catalogue: search, filter, chart, import and export the published studies of self-supervised
learning for medical image classification.

The search, the facets, the table, the details and the charts form one fragment: a change there
reruns only the fragment (the rest of the page stays), and the catalogue is parsed once per version
of its files (``load_catalogue``). A facet's selection is kept in ``sel_<facet>`` and copied into its
widget before each run, because the widget's option labels carry counts that change with the other
filters (a widget keeps its value by label).
"""

import re
from dataclasses import replace
from functools import partial

import pandas as pd
import streamlit as st

from sslcore.catalogue import (CLASSIFICATION_SCOPES, MAX_IMPORT_BYTES, Filters, export_csv, import_bibtex,
                               load_catalogue, load_taxonomy, remove_user_studies, to_bibtex)
from sslcore.catalogue import charts

# Facet widgets, in order: facet -> (label, annotation column giving the display labels, or None).
FACET_WIDGETS = {"scope": ("Scope", None), "modality": ("Modality", "modality"),
                 "anatomy": ("Body region", "anatomy"), "task": ("Task", "task"),
                 "strategy": ("SSL strategy", "ssl_strategy"), "method": ("Method family", None)}
ORIGINS = {"shipped": "shipped with the app", "user": "added by me"}
# A URL shown as a link; anything else (a hand-written url field of an import) is shown as text.
_PLAIN_URL = re.compile(r"https?://[^\s()<>\[\]\"']+")


def escape_markdown(text: str) -> str:
    """Text from a BibTeX file shown literally inside markdown (no bold, links or HTML)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$&])", r"\\\1", text)


def markdown_link(text: str, url: str) -> str:
    """``text`` linking to ``url`` when it is a plain http(s) address, else the address as text."""
    if _PLAIN_URL.fullmatch(url):
        return f"[{escape_markdown(text)}]({url})"
    return escape_markdown(url)


def _keep_selection(facet: str) -> None:
    st.session_state[f"sel_{facet}"] = list(st.session_state[f"f_{facet}"])


def _filter_by_cell() -> None:
    """A click on a square of the modality x strategy matrix selects that modality and strategy."""
    points = st.session_state["matrix"]["selection"]["points"]
    if points:
        modality, strategy = points[0]["customdata"]
        st.session_state.sel_modality, st.session_state.sel_strategy = [modality], [strategy]


def _filter_by_method() -> None:
    """A click on a bar of the method chart selects that method family."""
    points = st.session_state["methods_chart"]["selection"]["points"]
    if points:
        st.session_state.sel_method = [points[0]["customdata"]]


def _open_row(table_key: str, keys: list[str]) -> None:
    """A row clicked in the table opens that study's details."""
    rows = st.session_state[table_key]["selection"]["rows"]
    if rows:
        st.session_state.detail = keys[rows[0]]


def _clear_filters() -> None:
    for facet in [*FACET_WIDGETS, "origin"]:
        st.session_state[f"sel_{facet}"] = []
    st.session_state.query = ""
    st.session_state.pop("f_years", None)


def _filters(year_bounds: tuple[int, int]) -> Filters:
    low, high = st.session_state.get("f_years", year_bounds)
    return Filters(**{facet: st.session_state.get(f"sel_{facet}", []) for facet in [*FACET_WIDGETS, "origin"]},
                   year_from=low if low > year_bounds[0] else None, year_to=high if high < year_bounds[1] else None)


def _facet_widgets(catalogue_counts, counts, has_user_studies: bool):
    """The facet multiselects in a grid of four columns, each value labelled with its count under the
    other filters. Returns the grid's next free cell."""
    facets = dict(FACET_WIDGETS, **({"origin": ("Added by", None)} if has_user_studies else {}))
    columns = st.columns(4) + st.columns(4)
    for i, (facet, (label, column)) in enumerate(facets.items()):
        options = sorted(catalogue_counts[facet], key=lambda v: (-catalogue_counts[facet][v], v))
        st.session_state[f"f_{facet}"] = [v for v in st.session_state.get(f"sel_{facet}", []) if v in options]

        def shown(value, column=column, facet=facet):
            if facet == "origin":
                name = ORIGINS.get(value, value)
            else:
                name = taxonomy.label(column, value) if column else value
            return f"{name} ({counts[facet].get(value, 0)})"

        columns[i].multiselect(label, options, key=f"f_{facet}", format_func=shown, on_change=_keep_selection,
                               args=(facet,), placeholder="any")
    return columns[len(facets)]


def _table_key(keys: list[str]) -> str:
    """The table widget's key. A selected row is kept by position, so when the studies shown change
    while a row is selected, the table gets a new key (and no selection); otherwise the key stays,
    which lets the browser update the grid in place rather than build a new one."""
    generation = st.session_state.get("table_generation", 0)
    state = st.session_state.get(f"table-{generation}")
    if keys != st.session_state.get("table_keys") and state is not None and state["selection"]["rows"]:
        generation += 1
    st.session_state.table_generation, st.session_state.table_keys = generation, keys
    return f"table-{generation}"


def _table(results) -> None:
    keys = [s.key for s in results]
    table_key = _table_key(keys)
    table = pd.DataFrame({
        "Title": [s.title for s in results], "Year": [s.year for s in results],
        "Method": [s.ssl_method for s in results],
        "DOI": [s.doi_url for s in results], "arXiv": [s.arxiv_url for s in results],
        "Modality": [taxonomy.label("modality", s.modality) for s in results],
        "Scope": [s.scope for s in results],
        "Strategy": [taxonomy.label("ssl_strategy", s.ssl_strategy) for s in results]})
    if any(s.user_added for s in results):
        table["Added by me"] = [s.user_added for s in results]
    # Rows taller than 4rem let the grid wrap a long title or method over lines.
    st.dataframe(table, hide_index=True, key=table_key, on_select=partial(_open_row, table_key, keys),
                 selection_mode="single-row", row_height=66, height=min(560, 40 + 66 * len(results)),
                 column_config={
                     "Title": st.column_config.TextColumn(width=330),
                     "Year": st.column_config.NumberColumn(format="%d", width=55),
                     "Method": st.column_config.TextColumn(width=260),
                     "DOI": st.column_config.LinkColumn(display_text=r"https://doi\.org/(.*)", width=140),
                     "arXiv": st.column_config.LinkColumn(display_text=r"https://arxiv\.org/abs/(.*)", width=95),
                     "Modality": st.column_config.TextColumn(width=110),
                     "Scope": st.column_config.TextColumn(width=130)})


def _details(catalogue, results) -> None:
    titles = {s.key: f"{s.title} ({s.year or 'n.d.'})" for s in results}
    key = st.selectbox("Study details", list(titles), index=None, format_func=titles.get, key="detail",
                       placeholder="Click a row of the table, or choose a study here")
    if key is None:
        return
    study = catalogue.get(key)
    with st.container(border=True):
        st.markdown(f"#### {escape_markdown(study.title)}")
        links = [markdown_link(f"doi:{study.doi}", study.doi_url) if study.doi else "",
                 markdown_link(f"arXiv:{study.arxiv_id}", study.arxiv_url) if study.arxiv_id else "",
                 markdown_link("web page", study.url) if study.url not in ("", study.doi_url, study.arxiv_url) else ""]
        lines = [
            ("Authors", escape_markdown("; ".join(study.authors)) or "not stated"),
            ("Published", escape_markdown(", ".join(str(part) for part in (study.venue, study.year) if part))),
            ("Links", " · ".join(link for link in links if link) or "none"),
            ("Source", markdown_link("the public record that confirms this entry", study.source)
             if study.source else "not given"),
            ("Scope", escape_markdown(study.scope) + ("" if study.scope in CLASSIFICATION_SCOPES
                                                      else " (a neighbour: not a classification study)")),
            ("Modality / body region", f"{taxonomy.label('modality', study.modality)} / "
                                       f"{taxonomy.label('anatomy', study.anatomy)}"),
            ("SSL strategy", taxonomy.label("ssl_strategy", study.ssl_strategy)),
            ("Method", escape_markdown(study.ssl_method) or "not stated"),
            ("Method families", escape_markdown(", ".join(study.method_families)) or "none recognised"),
            ("Pretraining data", escape_markdown(study.pretrain_data) or "not stated"),
            ("Claim (paraphrased)", escape_markdown(study.claim) or "not stated")]
        st.markdown("\n".join(f"- **{name}:** {value}" for name, value in lines))
        with st.expander("BibTeX"):
            st.code(to_bibtex([study]), language="latex")
        if study.user_added and st.button("Remove this study from my catalogue", key="remove"):
            remove_user_studies([study.key])
            st.rerun()


def _charts(catalogue, query: str, filters: Filters, results) -> None:
    # Each clickable chart counts the studies of the other filters, so that every choice stays visible.
    cells = catalogue.search(query, replace(filters, modality=frozenset(), strategy=frozenset()))
    if not cells:
        st.info("No study to chart.")
        return
    st.plotly_chart(charts.modality_strategy_matrix(cells, taxonomy, filters.modality, filters.strategy),
                    key="matrix", on_select=_filter_by_cell, selection_mode="points")
    methods = catalogue.search(query, replace(filters, method=frozenset()))
    st.plotly_chart(charts.top_methods(methods, selected=filters.method), key="methods_chart",
                    on_select=_filter_by_method, selection_mode="points")
    if results:
        st.plotly_chart(charts.studies_per_year(results, taxonomy))


@st.fragment
def browse() -> None:
    """Search box, facets, result count, table, details and charts: rerun together on any change."""
    catalogue = load_catalogue()
    catalogue_counts = catalogue.browse("", Filters()).counts
    years = sorted(year for year in catalogue_counts["year"] if year)
    bounds = (years[0], years[-1])
    query = st.session_state.get("query", "")
    filters = _filters(bounds)
    found = catalogue.browse(query, filters)
    results = found.studies

    search, years_column, clear = st.columns([2, 1, 1], vertical_alignment="bottom")
    search.text_input("Search", key="query", placeholder="e.g. masked autoencoder CT",
                      help="Title, method, modality, body region, task, claim, pretraining data, authors and "
                           "venue; every word must match. Names of one thing count as one: MAE = masked "
                           "autoencoder, CXR = chest X-ray, WSI = histopathology.")
    years_column.slider("Years", *bounds, bounds, key="f_years")
    clear.button("Clear search and filters", on_click=_clear_filters, width="stretch")
    free = _facet_widgets(catalogue_counts, found.counts, bool(catalogue_counts["origin"]["user"]))
    free.metric("Studies found", f"{len(results)} of {len(catalogue)}")
    studies_tab, charts_tab = st.tabs(["Studies", "Charts"], key="view", on_change="rerun")
    if studies_tab.open:
        with studies_tab:
            if not results:
                st.info("No study matches: remove a word or a filter.")
            else:
                _table(results)
                _details(catalogue, results)
                left_button, right_button, _ = st.columns([1, 1, 2])
                left_button.download_button("Download this view (.bib)", lambda: to_bibtex(results),
                                            file_name="medssl_studies.bib", mime="application/x-bibtex")
                right_button.download_button("Download this view (.csv)", lambda: export_csv(results),
                                             file_name="medssl_studies.csv", mime="text/csv")
    if charts_tab.open:
        with charts_tab:
            _charts(catalogue, query, filters, results)


taxonomy = load_taxonomy()
st.title("Study catalogue")
catalogue = load_catalogue()
n_classification = sum(study.scope in CLASSIFICATION_SCOPES for study in catalogue.studies)
st.caption(
    f"{len(catalogue)} published studies of self-supervised learning in medical imaging, {n_classification} of "
    "them on image classification, the scope of the systematic reviews of Huang et al. 2023 (npj Digit Med 6:74) "
    "and Zeng et al. 2024 (BioMed Eng OnLine). The others are neighbours (Scope: segmentation only, detection "
    "only, ...): kept because the reviews list them, but they are not classification studies. Which exact "
    "studies each review included could not be read, so no study is marked as included in a review. Each "
    "study links the public record that confirms it; claims are short paraphrases: open the paper before "
    "citing a number.")
for warning in catalogue.warnings:
    st.warning(warning)

# A link from another page (the Learn page's ?strategy=contrastive) presets the strategy filter on first load.
if "sel_strategy" not in st.session_state:
    strategies = {study.ssl_strategy for study in catalogue.studies}
    st.session_state.sel_strategy = [value for value in st.query_params.get_all("strategy") if value in strategies]

browse_tab, taxonomy_tab, import_tab = st.tabs(["Browse", "SSL strategies explained", "Import"])

with browse_tab:
    browse()

with taxonomy_tab:
    st.markdown("Self-supervised learning (SSL) pretrains a network on unlabelled images by giving it a task "
                "whose answer comes from the images themselves. The studies use five families of tasks:")
    for value, term in taxonomy.strategies.items():
        members = [s for s in catalogue.studies if s.ssl_strategy == value]
        st.subheader(f"{term.label} ({len(members)} studies)")
        st.write(term.explanation)
        if members:
            with st.expander(f"Studies using {term.label.lower()} SSL"):
                st.dataframe(pd.DataFrame({"Title": [s.title for s in members], "Year": [s.year for s in members],
                                           "Method": [s.ssl_method for s in members]}),
                             hide_index=True, width="stretch")
    with st.expander("Modalities, body regions and tasks"):
        for section, terms in (("Modalities", taxonomy.modalities), ("Body regions", taxonomy.anatomies),
                               ("Tasks", taxonomy.tasks)):
            st.markdown(f"**{section}**")
            st.dataframe(pd.DataFrame({"Term": [t.label for t in terms.values()],
                                       "Meaning": [t.explanation for t in terms.values()]}),
                         hide_index=True, width="stretch")

with import_tab:
    st.subheader("Import your own references")
    st.caption(f"Entries go to your own layer of the catalogue (the shipped studies are never changed). "
               f"Duplicates are recognised by DOI, arXiv id, then title. Files up to "
               f"{MAX_IMPORT_BYTES // 2**20} MB, UTF-8. The optional CSV has a 'key' column and any of: "
               "modality, anatomy, task, ssl_strategy, ssl_method, pretrain_data, claim, source (an https link "
               "to the public record). The Browse tab exports the studies it shows.")
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
