"""The review-data validator: clean on the shipped data, precise on broken copies."""

import shutil

import pytest

from sslcore.catalogue import check_review_data
from sslcore.paths import REVIEW_DATA


def test_shipped_review_data_is_valid():
    assert check_review_data() == []


@pytest.fixture
def review_copy(tmp_path):
    for name in ("taxonomy.yaml", "studies.bib", "studies.csv", "paper_results.csv", "medmnist.csv"):
        shutil.copy(REVIEW_DATA / name, tmp_path / name)
    return tmp_path


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_each_problem_is_reported(review_copy):
    bib, csv = review_copy / "studies.bib", review_copy / "studies.csv"
    _edit(csv, "jamaludin2017self,mri,", "jamaludin2017self,holography,")          # unknown vocabulary
    _edit(bib, "10.3390/proceedings2181195", "doi-not-valid")                       # malformed DOI
    _edit(bib, "eprint        = {1708.00367}", "eprint        = {17-08}")           # malformed arXiv id
    _edit(bib, "  year      = {2017},\n  url       = {https://ieeexplore", "  url       = {https://ieeexplore")
    _edit(bib, "@article{hervella2018learning,\n  title   = {{Learning Retinal Patterns from Multimodal Images}},\n",
          "@article{hervella2018learning,\n")                                      # missing title
    _edit(csv, "ross2018exploiting,", "ross2018exploitingX,")                       # CSV row without entry + reverse
    text = csv.read_text(encoding="utf-8")
    csv.write_text(text + text.splitlines()[2] + "\n", encoding="utf-8")           # duplicate key
    messages = [str(p) for p in check_review_data(review_copy)]
    expected = ["unknown modality 'holography'", "malformed DOI 'doi-not-valid'", "malformed arXiv id '17-08'",
                "zhang2017self: missing year", "hervella2018learning: missing title",
                "ross2018exploitingX: no BibTeX entry", "ross2018exploiting: no row with this key",
                "zhang2017self: duplicate key (2 rows)"]
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert len(messages) == len(expected)


def test_duplicate_bibtex_key_and_missing_file(review_copy):
    bib = review_copy / "studies.bib"
    bib.write_text(bib.read_text(encoding="utf-8") + "\n@misc{zhang2017self, title={Again}, year={2017}}\n",
                   encoding="utf-8")
    assert any("duplicate key 'zhang2017self'" in str(p) for p in check_review_data(review_copy))
    (review_copy / "taxonomy.yaml").unlink()
    assert [str(p) for p in check_review_data(review_copy)] == ["taxonomy.yaml: file: missing"]


def test_published_results_are_checked_with_the_catalogue(review_copy):
    results = review_copy / "paper_results.csv"
    lines = results.read_text(encoding="utf-8").splitlines()
    results.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # a duplicated row
    problems = check_review_data(review_copy)
    assert problems and all(p.file == "paper_results.csv" for p in problems)
    assert any(p.where == f"line {len(lines) + 1}" and "duplicate" in p.message for p in problems)
    (review_copy / "medmnist.csv").unlink()
    assert any(p.file == "medmnist.csv" and "no such file" in p.message for p in check_review_data(review_copy))
