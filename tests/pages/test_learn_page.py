"""The Learn page, driven by Streamlit's AppTest with the shipped assets (MEDSSL_HOME is fresh per test)."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from sslcore import learn
from sslcore.learn import assets as learn_assets
from sslcore.catalogue import load_catalogue, load_taxonomy
from sslcore.paths import PROJECT_ROOT


def learn_page() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "pages" / "learn.py"), default_timeout=120).run()


def markdown_text(page: AppTest) -> str:
    return "\n".join(element.value for element in page.markdown)


def test_the_page_teaches_with_real_images_curve_similarity_and_glossary():
    page = learn_page()
    assert not page.exception, page.exception
    assert [header.value for header in page.header] == [
        "1. What self-supervised learning is", "2. Play with it", "3. Families of methods",
        "4. Practical guidelines", "5. Glossary"]
    assert len(page.get("image")) >= 10  # class examples, rotations, views, batch, pair, reconstruction, guesses
    curve, heatmap = page.get("plotly_chart")
    assert "fraction of training labels" in curve.proto.spec and '"type":"heatmap"' in heatmap.proto.spec.replace(" ", "")
    assert page.get("graphviz_chart")
    text = markdown_text(page)
    assert all(f"**{term}**" in text for term in learn.content()["glossary"])
    assert "the most similar other view is its own partner" in text
    captions = "\n".join(caption.value for caption in page.caption)
    assert learn.BUILD_COMMAND in captions
    assert len(page.checkbox) == sum(map(len, learn.content()["guidelines"].values()))


def test_the_remedis_recipe_is_explained_with_its_source_and_linked_to_the_lab():
    page = learn_page()
    assert "Combining them, the REMEDIS recipe" in [subheader.value for subheader in page.subheader]
    text = markdown_text(page)
    assert "ImageNet weights" in text and "PubMed 37291435" in text and "1% to 33%" in text
    assert {"lab", "compare"} <= {button.proto.url for button in page.get("link_button")}


def test_the_strategy_sections_link_into_the_filtered_catalogue():
    page = learn_page()
    links = {button.proto.url: button.proto.label for button in page.get("link_button")}
    overview = learn.strategy_overview(load_catalogue().studies, load_taxonomy())
    assert set(links) - {"lab", "compare"} == {item.link for item in overview}  # those two: the REMEDIS section
    contrastive = next(item for item in overview if item.value == "contrastive")
    assert links["catalogue?strategy=contrastive"].startswith(f"Open the {contrastive.n_studies} contrastive")


def test_the_first_image_shown_has_another_image_of_its_patient():
    page = learn_page()
    assert any("Your image and another image of the same patient" in caption.value for caption in page.caption)


def test_choosing_another_image_redraws_the_play_section():
    page = learn_page()
    first = page.caption[[c.value for c in page.caption].index(next(
        c.value for c in page.caption if "The encoder is the one" in c.value))].value
    similarity_before = next(m.value for m in page.markdown if "its own partner" in m.value)
    page.selectbox(key="class").select_index(3).run()
    page.number_input(key="member-3").set_value(2).run()
    page.number_input(key="seed").set_value(5).run()
    assert not page.exception, page.exception
    image_caption = [element for element in page.get("image") if "pleural effusion" in str(element.proto)]
    assert image_caption
    assert next(m.value for m in page.markdown if "its own partner" in m.value) != similarity_before
    assert first
    page.slider(key="mask_ratio").set_value(0.5).run()
    assert not page.exception, page.exception
    assert any("50% hidden" in str(element.proto) for element in page.get("image"))


def test_the_masked_autoencoder_text_follows_its_numbers():
    import re

    from sslcore.experiments.estimate import format_duration

    page = learn_page()
    trained_for = format_duration(learn_assets.load_manifest()["timings"]["mae_s"])
    branches = set()
    # the first image with 90% hidden, then one (pleural effusion no. 4) the shipped model redraws worse than
    # a flat guess with 25% hidden
    for finding, member, ratio in ((None, None, 0.9), (3, 4, 0.25)):
        if finding is not None:
            page.selectbox(key="class").select_index(finding).run()
            page.number_input(key=f"member-{finding}").set_value(member).run()
        page.slider(key="mask_ratio").set_value(ratio).run()
        assert not page.exception, page.exception
        texts = [m.value for m in page.markdown]
        numbers = next(t for t in texts if t.startswith("On the hidden tiles of this image"))
        error, flat_guess = (float(value) for value in re.findall(r"\*\*([0-9.]+)\*\*", numbers)[:2])
        branches.add(error < flat_guess)
        if error < flat_guess:
            assert any(t.startswith("The redrawing is blurred") for t in texts)
        else:  # the duration comes from the manifest, not from the page's prose
            assert any("no better than the flat guess" in t and f"trained for {trained_for} does not" in t
                       for t in texts)
    assert branches == {True, False}  # both sentences were checked


def test_without_assets_the_page_says_how_to_build_them(monkeypatch, tmp_path):
    monkeypatch.setattr(learn_assets, "ASSETS_DIR", tmp_path)
    st.cache_resource.clear()
    try:
        page = learn_page()
    finally:
        st.cache_resource.clear()
    assert not page.exception, page.exception
    assert "not built yet" in page.warning[0].value
    assert page.code[0].value == learn.BUILD_COMMAND
    assert not page.get("plotly_chart")  # no curve and no similarity matrix without the models
    assert [header.value for header in page.header][-1] == "5. Glossary"


@pytest.mark.parametrize("strategy", ["contrastive", "generative"])
def test_a_learn_link_opens_the_catalogue_filtered_to_its_strategy(strategy):
    catalogue = AppTest.from_file(str(PROJECT_ROOT / "pages" / "catalogue.py"), default_timeout=120)
    catalogue.query_params["strategy"] = strategy
    catalogue.run()
    assert not catalogue.exception, catalogue.exception
    assert catalogue.multiselect(key="f_strategy").value == [strategy]
    expected = sum(study.ssl_strategy == strategy for study in load_catalogue().studies)
    assert len(catalogue.dataframe[0].value) == expected
    assert set(catalogue.dataframe[0].value["Strategy"]) == {load_taxonomy().label("ssl_strategy", strategy)}
    catalogue.multiselect(key="f_strategy").unselect(strategy).run()  # the link presets, it does not lock
    assert len(catalogue.dataframe[0].value) == len(load_catalogue().studies)
