"""Crafted imports: slow-regex BibTeX, over-long fields, spreadsheet formulas, concurrent imports and
an import interrupted half-way through writing the user layer."""

import csv
import io
import os
import threading
import time
from dataclasses import replace

import pytest

from sslcore.catalogue import export_csv, import_bibtex, load_catalogue, user_layer_paths
from sslcore.catalogue import store
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


def test_concurrent_imports_lose_nothing():
    n_threads, per_thread = 6, 5
    barrier = threading.Barrier(n_threads)
    errors = []

    def run(t):
        bib = "".join(f"@misc{{t{t}e{i}, title={{Thread {t} entry {i}}}, year={{2024}}}}\n" for i in range(per_thread))
        annotations = "key,claim\n" + "".join(f"t{t}e{i},claim {t}.{i}\n" for i in range(per_thread))
        barrier.wait()
        try:
            import_bibtex(bib.encode(), annotations.encode())
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    catalogue = load_catalogue()
    for t in range(n_threads):
        for i in range(per_thread):
            assert catalogue.get(f"t{t}e{i}").claim == f"claim {t}.{i}"
    assert not catalogue.warnings


def test_lock_held_too_long_gives_a_sentence(monkeypatch):
    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.2)
    with store._user_layer_lock(exclusive=True):  # as another process changing the layer would
        with pytest.raises(ValueError, match="being changed by another import or removal"):
            import_bibtex(b"@misc{late, title={Late}, year={2024}}")
    assert [s.key for s in import_bibtex(b"@misc{late, title={Late}, year={2024}}").added] == ["late"]


def test_crash_between_the_two_renames_is_finished_on_next_read(monkeypatch):
    import_bibtex(b"@misc{old, title={Old}, year={2024}}", b"key,claim\nold,old claim\n")
    real_replace, calls = os.replace, []

    def crash_on_the_second_file(src, dst):
        calls.append(dst)
        if str(dst) == str(user_layer_paths()[1]):  # user.bib is in place, user.csv is not
            raise KeyboardInterrupt("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        import_bibtex(b"@misc{new, title={New}, year={2024}}", b"key,claim\nnew,new claim\n")
    monkeypatch.setattr(os, "replace", real_replace)
    assert str(user_layer_paths()[0]) in map(str, calls)
    catalogue = load_catalogue()
    assert catalogue.get("new").claim == "new claim" and catalogue.get("old").claim == "old claim"
    folder = user_layer_paths()[0].parent
    assert sorted(p.name for p in folder.iterdir()) == [".user.lock", "user.bib", "user.csv"]


def test_crash_before_the_commit_marker_keeps_the_old_pair(monkeypatch):
    import_bibtex(b"@misc{old, title={Old}, year={2024}}", b"key,claim\nold,old claim\n")
    real_write = store.atomic_write_text

    def crash_on_the_marker(path, text):
        if path.name == ".user.commit":
            raise KeyboardInterrupt("killed")
        return real_write(path, text)

    monkeypatch.setattr(store, "atomic_write_text", crash_on_the_marker)
    with pytest.raises(KeyboardInterrupt):
        import_bibtex(b"@misc{new, title={New}, year={2024}}")
    monkeypatch.setattr(store, "atomic_write_text", real_write)
    catalogue = load_catalogue()
    assert "new" not in catalogue and catalogue.get("old").claim == "old claim"
    assert sorted(p.name for p in user_layer_paths()[0].parent.iterdir()) == [".user.lock", "user.bib", "user.csv"]
