"""The catalogue page, driven by Streamlit's AppTest (MEDSSL_HOME is a fresh folder per test)."""

from streamlit.testing.v1 import AppTest

from sslcore.catalogue import import_bibtex
from sslcore.paths import PROJECT_ROOT


def _page():
    app = AppTest.from_file(str(PROJECT_ROOT / "pages" / "catalogue.py"), default_timeout=60)
    app.run()
    assert not app.exception
    return app


def _table(app):
    return app.dataframe[0].value


def test_search_facet_and_detail():
    app = _page()
    assert len(_table(app)) == 139
    app.text_input(key="query").input("moco chest").run()
    table = _table(app)
    assert table["Title"].iloc[0].startswith("MoCo Pretraining Improves")
    app.multiselect(key="f_modality").select("ct").run()
    table = _table(app)
    assert len(table) >= 1 and set(table["Modality"]) == {"CT"}
    assert app.metric[0].value == f"{len(table)} of 139"
    app.multiselect(key="f_modality").unselect("ct").run()
    app.selectbox(key="detail").select("sowrirajan2021moco").run()
    assert "@article{sowrirajan2021moco" in app.code[0].value or "sowrirajan2021moco," in app.code[0].value
    details = dict(zip(app.dataframe[1].value["Field"], app.dataframe[1].value["Value"]))
    assert details["Method"] == "MoCo (MoCo-CXR)" and details["Modality"] == "X-ray"


def test_bibtex_text_is_shown_literally():
    title = "<script>alert(1)</script> **bold** claim"
    import_bibtex(f"@misc{{evil2025, title={{{title}}}, year={{2025}}}}".encode())
    app = _page()
    app.text_input(key="query").input("alert bold").run()
    assert list(_table(app)["Title"]) == [title]
    assert app.selectbox(key="detail").value == "evil2025"
    heading = [m.value for m in app.markdown if "script" in m.value]
    assert heading == [r"#### \<script\>alert\(1\)\</script\> \*\*bold\*\* claim"]
    assert f"title = {{{title}}}" in app.code[0].value
    assert not app.exception


def test_user_study_can_be_removed():
    import_bibtex(b"@misc{mine2025, title={My own study}, year={2025}}")
    app = _page()
    app.text_input(key="query").input("my own study").run()
    app.button(key="remove").click().run()
    assert len(_table(app)) == 0


def test_a_strategy_in_the_url_presets_the_strategy_filter():
    """The Learn page links to catalogue?strategy=...; an unknown value is ignored."""
    app = AppTest.from_file(str(PROJECT_ROOT / "pages" / "catalogue.py"), default_timeout=60)
    app.query_params["strategy"] = "generative"
    app.run()
    assert not app.exception
    assert app.multiselect(key="f_strategy").value == ["generative"]
    assert set(_table(app)["Strategy"]) == {"Generative (reconstruction)"}
    unknown = AppTest.from_file(str(PROJECT_ROOT / "pages" / "catalogue.py"), default_timeout=60)
    unknown.query_params["strategy"] = "<nonsense>"
    unknown.run()
    assert unknown.multiselect(key="f_strategy").value == [] and len(_table(unknown)) == 139
