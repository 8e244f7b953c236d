"""The catalogue page, driven by Streamlit's AppTest (MEDSSL_HOME is a fresh folder per test)."""

import plotly.io
from streamlit.testing.v1 import AppTest

from sslcore.catalogue import import_bibtex, load_catalogue
from sslcore.paths import PROJECT_ROOT

PAGE = str(PROJECT_ROOT / "pages" / "catalogue.py")


def _page(**query_params):
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.query_params.update(query_params)
    app.run()
    assert not app.exception, app.exception
    return app


def _table(app):
    return app.dataframe[0].value


def _found(app):
    return app.metric[0].value


def _details(app):
    """The study details as a reader sees them (markdown escapes removed)."""
    return "\n".join(m.value for m in app.markdown if m.value.startswith("- **Authors:**")).replace("\\", "")


def test_search_facet_and_detail():
    app = _page()
    total = len(load_catalogue())
    assert len(_table(app)) == total and _found(app) == f"{total} of {total}"
    app.text_input(key="query").input("moco chest").run()
    table = _table(app)
    assert table["Title"].iloc[0].startswith("MoCo Pretraining Improves")
    app.multiselect(key="f_modality").select("ct").run()
    table = _table(app)
    assert len(table) >= 1 and set(table["Modality"]) == {"CT"}
    assert _found(app) == f"{len(table)} of {total}"
    app.multiselect(key="f_modality").unselect("ct").run()
    app.selectbox(key="detail").select("sowrirajan2021moco").run()
    details = _details(app)
    assert "**Method:** MoCo (MoCo-CXR)" in details and "**Scope:** classification" in details
    assert "[the public record that confirms this entry](https://proceedings.mlr.press/v143/sowrirajan21a.html)" \
        in details
    assert "[arXiv:2010.05352](https://arxiv.org/abs/2010.05352)" in details
    assert "@inproceedings{sowrirajan2021moco" in app.code[0].value


def test_details_show_full_text_and_say_when_a_study_is_a_neighbour():
    app = _page()
    study = load_catalogue().get("tang2024hyspark")  # segmentation only
    app.selectbox(key="detail").select(study.key).run()
    details = _details(app)
    assert "**Scope:** segmentation only (a neighbour: not a classification study)" in details
    authors = next(line for line in details.splitlines() if line.startswith("- **Authors:**"))
    assert authors.count(";") == len(study.authors) - 1  # every author, none cut off
    assert study.claim in details and study.pretrain_data in details and study.ssl_method in details


def test_facet_values_show_their_counts_under_the_other_filters():
    app = _page()
    catalogue = load_catalogue()
    ct = sum(s.modality == "ct" for s in catalogue.studies)
    assert f"CT ({ct})" in app.multiselect(key="f_modality").options
    app.multiselect(key="f_strategy").select("generative").run()
    generative_ct = sum(s.modality == "ct" and s.ssl_strategy == "generative" for s in catalogue.studies)
    assert f"CT ({generative_ct})" in app.multiselect(key="f_modality").options
    # the strategy widget keeps its own counts (choosing another strategy adds studies)
    contrastive = sum(s.ssl_strategy == "contrastive" for s in catalogue.studies)
    assert f"Contrastive ({contrastive})" in app.multiselect(key="f_strategy").options
    # a selection survives its label changing with the other filters
    app.multiselect(key="f_modality").select("ct").run()
    app.multiselect(key="f_strategy").unselect("generative").run()
    assert app.multiselect(key="f_modality").value == ["ct"] and _found(app) == f"{ct} of {len(catalogue)}"


def test_the_scope_facet_separates_classification_studies_from_neighbours():
    app = _page()
    app.multiselect(key="f_scope").select("segmentation only").run()
    assert set(_table(app)["Scope"]) == {"segmentation only"}
    assert any("not classification studies" in caption.value for caption in app.caption)


def test_the_clickable_charts_carry_their_filter_values():
    app = _page()
    app.session_state["view"] = "Charts"
    app.run()
    matrix = plotly.io.from_json(app.get("plotly_chart")[0].proto.spec)
    assert matrix.data[0].type == "scatter" and "click" in matrix.layout.title.text
    assert ["ct", "generative"] in [list(cell) for cell in matrix.data[0].customdata]
    methods = plotly.io.from_json(app.get("plotly_chart")[1].proto.spec)
    assert "click" in methods.layout.title.text and "MoCo" in list(methods.data[0].customdata)
    # both report point selections to the page (the browser test clicks them); the year chart does not
    assert [list(chart.proto.selection_mode) for chart in app.get("plotly_chart")] == [[0], [0], []]


def test_bibtex_text_is_shown_literally():
    title = "<script>alert(1)</script> **bold** claim"
    import_bibtex(f"@misc{{evil2025, title={{{title}}}, year={{2025}}, url={{javascript:alert(1)}}}}".encode())
    app = _page()
    app.text_input(key="query").input("alert bold").run()
    assert list(_table(app)["Title"]) == [title]
    app.selectbox(key="detail").select("evil2025").run()
    heading = [m.value for m in app.markdown if "script" in m.value and m.value.startswith("####")]
    assert heading == [r"#### \<script\>alert\(1\)\</script\> \*\*bold\*\* claim"]
    assert "](javascript" not in _details(app)  # a non-http url is shown as text, never as a link
    assert f"title = {{{title}}}" in app.code[0].value
    assert not app.exception


def test_user_study_can_be_removed():
    import_bibtex(b"@misc{mine2025, title={My own study}, year={2025}}")
    app = _page()
    app.text_input(key="query").input("my own study").run()
    app.selectbox(key="detail").select("mine2025").run()
    app.button(key="remove").click().run()
    assert _found(app).startswith("0 of")


def test_a_strategy_in_the_url_presets_the_strategy_filter():
    """The Learn page links to catalogue?strategy=...; an unknown value is ignored."""
    app = _page(strategy="generative")
    assert app.multiselect(key="f_strategy").value == ["generative"]
    assert set(_table(app)["Strategy"]) == {"Generative (reconstruction)"}
    unknown = _page(strategy="<nonsense>")
    assert unknown.multiselect(key="f_strategy").value == [] and len(_table(unknown)) == len(load_catalogue())
