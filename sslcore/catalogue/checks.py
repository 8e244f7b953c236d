"""Validation of the shipped review data (``python -m sslcore catalogue check``).

Each data file has a checker module exposing ``check(review_dir: Path) -> list[Problem]``. To
validate a new file of review_data/, write such a function in the module that owns the file and
add the module to CHECK_MODULES.
"""

from __future__ import annotations

import csv
import importlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sslcore.paths import REVIEW_DATA

CHECK_MODULES = ["sslcore.catalogue.checks", "sslcore.catalogue.synonyms", "sslcore.catalogue.published"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a data file; ``where`` is a key, a line or a column."""
    file: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


def check_review_data(review_dir: str | Path = REVIEW_DATA) -> list[Problem]:
    """All problems found by every registered checker in ``review_dir``."""
    review_dir = Path(review_dir)
    problems = []
    for module_name in CHECK_MODULES:
        problems += importlib.import_module(module_name).check(review_dir)
    return problems


def check(review_dir: Path) -> list[Problem]:
    """Problems of the study catalogue: taxonomy.yaml, studies.bib and studies.csv. Besides keys,
    vocabulary, DOIs, arXiv ids, titles and years, every study needs a source link of valid form
    and a strategy that agrees with the taxonomy's methods map (``Taxonomy.strategy_problem``)."""
    from sslcore.catalogue.study import ANNOTATION_COLUMNS, entry_problems, parse_bibtex
    from sslcore.catalogue.taxonomy import VOCABULARY_COLUMNS, read_taxonomy
    from sslcore.catalogue.text import source_link_problem

    taxonomy_path, bib_path, csv_path = (review_dir / name for name in
                                         ("taxonomy.yaml", "studies.bib", "studies.csv"))
    missing = [Problem(p.name, "file", "missing") for p in (taxonomy_path, bib_path, csv_path) if not p.is_file()]
    if missing:
        return missing
    try:
        taxonomy = read_taxonomy(taxonomy_path)
    except ValueError as error:
        return [Problem(taxonomy_path.name, "file", str(error))]
    problems = []

    entries, failures = parse_bibtex(bib_path.read_text(encoding="utf-8"))
    problems += [Problem(bib_path.name, f"line {line}", reason) for line, reason in failures]
    for entry in entries:
        problems += [Problem(bib_path.name, entry.key or f"line {entry.line}", p) for p in entry_problems(entry)]
    bib_keys = {entry.key for entry in entries}

    reader = csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8")))
    absent = [c for c in ANNOTATION_COLUMNS if c not in (reader.fieldnames or [])]
    if absent:
        return problems + [Problem(csv_path.name, "header", f"missing column(s): {', '.join(absent)}")]
    rows = list(reader)
    for key, count in Counter(row["key"] for row in rows).items():
        if count > 1:
            problems.append(Problem(csv_path.name, key, f"duplicate key ({count} rows)"))
    csv_keys = set()
    for line, row in enumerate(rows, start=2):
        key = row["key"].strip()
        if not key:
            problems.append(Problem(csv_path.name, f"line {line}", "empty key"))
            continue
        csv_keys.add(key)
        for column in VOCABULARY_COLUMNS:
            value = row[column].strip()
            if value and value not in taxonomy.vocabulary(column):
                problems.append(Problem(csv_path.name, key, f"unknown {column} '{value}' "
                                        f"(not in taxonomy.yaml; allowed: {', '.join(taxonomy.vocabulary(column))})"))
        for message in (source_link_problem(row["source"].strip()),
                        taxonomy.strategy_problem(row["ssl_method"], row["ssl_strategy"].strip())):
            if message:
                problems.append(Problem(csv_path.name, key, message))
    problems += [Problem(csv_path.name, key, "no BibTeX entry with this key in studies.bib")
                 for key in sorted(csv_keys - bib_keys)]
    problems += [Problem(bib_path.name, key, "no row with this key in studies.csv")
                 for key in sorted(bib_keys - csv_keys) if key]
    return problems

