"""The review-data validator: clean on the shipped (grown) catalogue, precise on broken copies."""

import csv
import io
import shutil

import pytest

from sslcore.catalogue import check_review_data
from sslcore.paths import REVIEW_DATA


def test_shipped_review_data_is_valid():
    assert check_review_data() == []


@pytest.fixture
def review_copy(tmp_path):
    for name in ("taxonomy.yaml", "synonyms.yaml", "studies.bib", "studies.csv", "paper_results.csv",
                 "medmnist.csv"):
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


def _set_cells(path, key, **cells):
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    row = next(row for row in rows if row["key"] == key)
    row.update(cells)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.mark.parametrize("source, message", [
    ("", "no source link"),
    ("http://www.nature.com/articles/s42256-020-00247-1", "not an https link"),
    ("https://doi.org/not-a-doi", "does not end in a valid DOI"),
    ("https://arxiv.org/abs/17-08", "does not end in a valid arXiv id"),
    ("see the paper", "not an https link"),
])
def test_every_study_needs_a_source_link_of_valid_form(review_copy, source, message):
    _set_cells(review_copy / "studies.csv", "holmberg2020self", source=source)
    problems = check_review_data(review_copy)
    assert [(p.where, message in p.message) for p in problems] == [("holmberg2020self", True)], problems


@pytest.mark.parametrize("method, strategy, fine", [
    ("DINOv2 self-distillation on slides", "non-contrastive", False),  # DINOv2 is hybrid in the taxonomy
    ("DINOv2 self-distillation on slides", "hybrid", True),
    ("SimCLR", "", False),                                              # one family: its strategy is due
    ("SimCLR compared with training from scratch", "", True),           # a comparison may leave it empty
    ("MAE", "contrastive", False),
    ("MAE + global contrastive loss", "hybrid", True),                  # a hybrid names its other objective
    ("MAE with larger patches", "hybrid", False),
    ("SimCLR and BYOL compared", "", True),                             # several families: not constrained
    ("a new pretext task", "generative", True),                         # no family named: not constrained
])
def test_strategies_follow_the_taxonomy_methods_map(review_copy, method, strategy, fine):
    _set_cells(review_copy / "studies.csv", "holmberg2020self", ssl_method=method, ssl_strategy=strategy)
    problems = check_review_data(review_copy)
    assert problems == [] if fine else [p.where for p in problems] == ["holmberg2020self"]
    if not fine:
        assert "taxonomy.yaml methods map" in problems[0].message


def test_a_broken_synonyms_file_is_reported(review_copy):
    synonyms = review_copy / "synonyms.yaml"
    synonyms.write_text("groups:\n  a: {terms: [MAE]}\n  b: {terms: [mae, other]}\n", encoding="utf-8")
    assert [str(p) for p in check_review_data(review_copy)] == [
        f"synonyms.yaml: file: {synonyms}: 'mae' is a term of two groups, 'a' and 'b'"]
    synonyms.unlink()
    assert [str(p) for p in check_review_data(review_copy)] == ["synonyms.yaml: file: missing"]


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
