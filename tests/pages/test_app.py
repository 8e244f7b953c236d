"""The entry point: navigation over every page, and the home page's links."""

import pytest
from streamlit.testing.v1 import AppTest

from sslcore.paths import PROJECT_ROOT

PAGES = ["pages/learn.py", "pages/catalogue.py", "pages/evidence.py", "pages/lab.py", "pages/results.py", "pages/embeddings.py",
         "pages/runs.py"]


def app() -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120).run()


def test_home_opens_first_and_links_to_the_pages():
    page = app()
    assert not page.exception, page.exception
    assert page.title[0].value == "MedSSL Explorer"
    # Page links are checked against the navigation, so a wrong path would have raised above.
    assert any("synthetic" in markdown.value for markdown in page.markdown)
    # no fixed promise of a duration (the demo measured 6.5 min here); the Lab's estimate says how long
    teachers = next(markdown.value for markdown in page.markdown if "Teachers" in markdown.value)
    assert "two minutes" not in teachers and "how long on this machine" in teachers


@pytest.mark.parametrize("path", PAGES)
def test_every_page_opens_from_the_navigation(path):
    page = app()
    page.switch_page(path).run()
    assert not page.exception, page.exception
    assert page.title
