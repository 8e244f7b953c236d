"""Importing a user's BibTeX into the user layer: duplicates, rejections, bad files, export round trip."""

import pytest

from sslcore.catalogue import (MAX_IMPORT_BYTES, Filters, export_csv, import_bibtex, load_catalogue,
                               remove_user_studies, to_bibtex, user_layer_paths)
from sslcore.catalogue.store import SHIPPED_BIB

NEW = b"""
@article{doe2025new,
  title = {A New Study of Self-Supervised Ultrasound},
  author = {Doe, Jane and M{\\"u}ller, Anna},
  journal = {Journal of Tests},
  year = {2025},
  doi = {10.9999/test.2025.1}
}
"""


def test_import_adds_to_user_layer_only(tmp_path):
    shipped_before = SHIPPED_BIB.read_bytes()
    report = import_bibtex(NEW)
    assert [s.key for s in report.added] == ["doe2025new"] and not report.rejected
    catalogue = load_catalogue()
    study = catalogue.get("doe2025new")
    assert study.user_added and study.authors == ("Doe, Jane", "Müller, Anna")
    assert user_layer_paths()[0].is_file() and SHIPPED_BIB.read_bytes() == shipped_before
    assert catalogue.search("muller ultrasound")[0].key == "doe2025new"
    assert catalogue.search("", Filters(origin={"user"})) == [study]


def test_duplicates_by_doi_arxiv_and_title():
    text = b"""
@article{a, title={Totally different title}, year={2021}, doi={https://doi.org/10.1007/978-3-319-67558-9_34}}
@misc{b, title={Another title}, year={2021}, eprint={2002.05709v2}, archiveprefix={arXiv}}
@misc{c, title={MoCo pretraining improves representation and transferability of chest X-ray models!}, year={2021}}
@misc{d, title={Fresh paper}, year={2021}, eprint={2002.05709}, archiveprefix={arXiv}}
"""
    shipped = import_bibtex(b"@misc{simclr, title={A Simple Framework}, year={2020}, eprint={2002.05709}}")
    assert [s.key for s in shipped.added] == ["simclr"]
    report = import_bibtex(text)
    found = {d.key: (d.matched_by, d.existing_key) for d in report.duplicates}
    assert found == {"a": ("DOI", "jamaludin2017self"), "b": ("arXiv id", "simclr"),
                     "c": ("title", "sowrirajan2021moco"), "d": ("arXiv id", "simclr")}
    assert report.added == [] and report.read_anything


def test_bad_entries_are_rejected_with_reasons_and_good_ones_kept():
    text = b"""
@article{good, title={Good one}, year={2022}}
@article{noyear, title={No year here}}
@article{notitle, year={2022}}
@article{baddoi, title={Bad DOI}, year={2022}, doi={11.abc}}
@article{broken, title={Unclosed, year={2022}
"""
    report = import_bibtex(text)
    assert [s.key for s in report.added] == ["good"]
    reasons = {r.where: r.reason for r in report.rejected}
    assert reasons["noyear"] == "missing year" and reasons["notitle"] == "missing title"
    assert "malformed DOI" in reasons["baddoi"]
    assert load_catalogue().get("good").title == "Good one"


@pytest.mark.parametrize("data, message", [
    ("caf\xe9".encode("latin-1"), "not UTF-8"),
    (b"%" + b"x" * MAX_IMPORT_BYTES, "import limit is 5 MB"),
])
def test_unreadable_files_raise_and_leave_the_catalogue_alone(data, message):
    import_bibtex(NEW)
    before = user_layer_paths()[0].read_bytes()
    with pytest.raises(ValueError, match=message):
        import_bibtex(data)
    assert user_layer_paths()[0].read_bytes() == before
    assert "doe2025new" in load_catalogue()


def test_garbage_reads_nothing():
    report = import_bibtex(b"this is not bibtex at all {{{")
    assert not report.read_anything and not load_catalogue().search("", Filters(origin={"user"}))


def test_annotations_csv_is_validated_and_joined():
    annotations = (b"key,modality,ssl_strategy,ssl_method\n"
                   b"doe2025new,ultrasound,contrastive,SimCLR with video positives\n"
                   b"ghost,ct,,\n")
    report = import_bibtex(NEW, annotations)
    study = load_catalogue().get("doe2025new")
    assert (study.modality, study.ssl_strategy, study.method_families) == ("ultrasound", "contrastive", ("SimCLR",))
    assert [r.where for r in report.rejected] == ["annotations for ghost"]
    bad = import_bibtex(b"@misc{doe2, title={Second}, year={2025}}", b"key,modality\ndoe2,holography\n")
    assert "unknown modality 'holography'" in bad.rejected[0].reason
    assert load_catalogue().get("doe2").modality == ""


def test_key_clash_with_a_different_paper_gets_a_suffix():
    report = import_bibtex(b"@misc{sowrirajan2021moco, title={Unrelated}, year={2030}}")
    assert [s.key for s in report.added] == ["sowrirajan2021moco-2"]


def test_export_then_import_adds_nothing():
    import_bibtex(NEW)
    catalogue = load_catalogue()
    view = catalogue.search("", Filters(year_from=2020))
    report = import_bibtex(to_bibtex(view).encode())
    assert report.added == [] and len(report.duplicates) == len(view) and not report.rejected
    rows = export_csv(view).splitlines()
    assert len(rows) == len(view) + 1 and rows[0].startswith("key,title,authors,year")


def test_remove_user_studies_only():
    import_bibtex(NEW)
    assert remove_user_studies(["doe2025new"]) == ["doe2025new"]
    assert "doe2025new" not in load_catalogue()
    with pytest.raises(ValueError, match="shipped studies cannot be removed"):
        remove_user_studies(["sowrirajan2021moco"])


def test_hand_broken_user_layer_is_skipped_with_a_warning():
    import_bibtex(NEW)
    bib = user_layer_paths()[0]
    bib.write_text(bib.read_text(encoding="utf-8") + "\n@article{oops, title={x}\n", encoding="utf-8")
    catalogue = load_catalogue()
    assert "doe2025new" in catalogue and catalogue.warnings


def test_an_imported_source_link_is_kept_or_rejected_with_its_reason():
    annotations = (b"key,source\n"
                   b"doe2025new,https://doi.org/10.9999/test.2025.1\n")
    import_bibtex(NEW, annotations)
    assert load_catalogue().get("doe2025new").source == "https://doi.org/10.9999/test.2025.1"
    bad = import_bibtex(b"@misc{doe3, title={Third}, year={2025}}", b"key,source\ndoe3,javascript:alert(1)\n")
    assert "is not an https link" in bad.rejected[0].reason and load_catalogue().get("doe3").source == ""
