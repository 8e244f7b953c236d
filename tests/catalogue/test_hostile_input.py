"""Crafted imports: slow-regex BibTeX, over-long fields and spreadsheet formulas."""

import csv
import io
import time
from dataclasses import replace

import pytest

from sslcore.catalogue import export_csv, import_bibtex
from sslcore.catalogue.study import MAX_FIELD_CHARS, BibEntry, study_from
from sslcore.catalogue.text import arxiv_id_from, clean_latex, split_authors


def _crafted(shape: str, chars: int, entries: int = 8) -> bytes:
    """BibTeX whose entries each carry a ``chars``-long field that made the old patterns backtrack
    quadratically: a repeated arXiv URL ending in "?", a run of spaces in an author list, and a
    LaTeX accent followed by spaces and no letter."""
    blocks = []
    for i in range(entries):
        title, extra = f"Crafted {shape} {i}", ""
        if shape == "url":
            extra = ", url = {" + "arxiv.org/abs/" * (chars // 14) + "?}"
        elif shape == "authors":
            extra = ", author = {Doe, J" + " " * chars + "x and Roe, K}"
        else:
            title += " \\'" + " " * chars + "1"
        blocks.append(f"@misc{{k{i}, title={{{title}}}, year={{2024}}{extra}}}\n")
    return "".join(blocks).encode()


def _best_import_seconds(data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        report = import_bibtex(data, dry_run=True)
        best = min(best, time.perf_counter() - start)
    assert len(report.added) == 8 and not report.rejected  # the crafted fields were all processed
    return best


@pytest.mark.parametrize("shape", ["url", "authors", "accent"])
def test_crafted_bibtex_imports_in_linear_time(shape):
    # 8 entries with 4,000- and 16,000-character fields (32 KB and 130 KB files). The old patterns
    # took 0.25-3.3 s and 5-48 s: 16 times longer for 4 times the text. Linear handling takes
    # milliseconds and 2-4 times longer.
    import_bibtex(b"@misc{warm, title={Warm}, year={2020}}", dry_run=True)  # shipped catalogue cached
    small, large = (_best_import_seconds(_crafted(shape, chars)) for chars in (4_000, 16_000))
    assert large < 8 * small + 0.05, f"{shape}: {small:.4f} s for 32 KB but {large:.4f} s for 130 KB"


def test_text_helpers_on_crafted_fields():
    spaces = " " * 50_000
    assert split_authors("Doe, Jane" + spaces + "and {Barnes and Noble}" + spaces + "x") == \
        ["Doe, Jane", "Barnes and Noble x"]
    assert arxiv_id_from({"url": "https://arxiv.org/abs/" * 3_000 + "?"}) == ""
    assert arxiv_id_from({"url": "see arxiv.org/abs/1 https://arXiv.org/pdf/2002.05709v2.pdf"}) == "2002.05709v2"
    assert clean_latex("\\'" + spaces + "1 M{\\\"u}ller \\c c") == "\\' 1 Müller ç"


def test_over_long_field_is_rejected_with_its_length():
    author = "Doe, J and " * 3_000  # 33,000 characters
    report = import_bibtex(f"@misc{{long, title={{Long}}, year={{2024}}, author={{{author}}}}}\n"
                           f"@misc{{{'k' * 500}, title={{Long key}}, year={{2024}}}}\n"
                           "@misc{fine, title={Fine}, year={2024}}".encode())
    assert [s.key for s in report.added] == ["fine"]
    reasons = [r.reason for r in report.rejected]
    assert reasons[0] == f"field 'author' has {len(author.strip()):,} characters (the limit is {MAX_FIELD_CHARS:,})"
    assert reasons[1] == "citation key has 500 characters (the limit is 200)"
    assert len(report.rejected[1].where) < 100


def test_annotations_csv_with_huge_cells_gives_one_sentence():
    bib = b"@misc{a, title={A}, year={2024}}"
    report = import_bibtex(bib, b"key,claim\na," + b"x" * 30_000 + b"\n")
    assert report.rejected[0].reason == f"column 'claim' has 30,000 characters (the limit is {MAX_FIELD_CHARS:,})"
    with pytest.raises(ValueError, match=r"annotations CSV line 2: not readable as CSV \(field larger"):
        import_bibtex(bib, b"key,claim\na," + b"x" * 200_000 + b"\n")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_export_neutralises_formulas(start):
    formula = start + 'HYPERLINK("http://evil.example","click")'
    entry = BibEntry("evil", "misc", {"title": "Harmless", "year": "2024", "url": formula}, 1)
    study = replace(study_from(entry), claim=formula, title=formula)
    honest = study_from(BibEntry("honest", "misc", {"title": "A 2-stage model", "year": "2024"}, 1))
    rows = list(csv.DictReader(io.StringIO(export_csv([study, honest]))))
    assert rows[0]["title"] == rows[0]["url"] == rows[0]["claim"] == "'" + formula
    assert rows[1]["title"] == "A 2-stage model" and rows[1]["key"] == "honest"
