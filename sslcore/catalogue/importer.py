"""Import a user's BibTeX (and optional annotations CSV) into the user layer, without duplicates.

The shipped data is never written. A file that cannot be read raises ValueError before anything
is written; entries that cannot be used are rejected one by one with their reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sslcore.catalogue.study import (MAX_FIELD_CHARS, BibEntry, Study, entry_problems, parse_bibtex,
                                     read_annotations, study_from)
from sslcore.catalogue.taxonomy import VOCABULARY_COLUMNS, load_taxonomy
from sslcore.catalogue.text import arxiv_base, excerpt, normalise_title, source_link_problem

# A BibTeX file of several thousand references stays well under this size.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Duplicate:
    key: str
    title: str
    existing_key: str
    matched_by: str  # "DOI", "arXiv id" or "title"


@dataclass(frozen=True)
class Rejection:
    where: str   # the entry's key, or the line of an unreadable block
    reason: str


@dataclass
class ImportReport:
    """What an import did: studies added, entries already present, entries rejected and why."""
    added: list[Study] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def read_anything(self) -> bool:
        """Whether at least one entry was recognised (added or found to be a duplicate)."""
        return bool(self.added or self.duplicates)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.duplicates)} already in the catalogue, "
                f"{len(self.rejected)} rejected")

    def lines(self) -> list[str]:
        """The report as plain text lines (CLI and app)."""
        lines = [self.summary()]
        lines += [f"  added      {s.key}: {s.title}" for s in self.added]
        lines += [f"  duplicate  {d.key}: same {d.matched_by} as {d.existing_key}" for d in self.duplicates]
        lines += [f"  rejected   {r.where}: {r.reason}" for r in self.rejected]
        return lines


def read_upload(source: bytes | str | os.PathLike, what: str) -> str:
    """UTF-8 text of uploaded bytes or of a file path; ValueError naming ``what`` when the input is
    missing, larger than MAX_IMPORT_BYTES or not UTF-8."""
    if isinstance(source, bytes):
        size, name = len(source), what
    else:
        path = Path(source)
        name = str(path)
        if not path.is_file():
            raise ValueError(f"{name}: no such file")
        size = path.stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise ValueError(f"{name} is {size / 2**20:.1f} MB; the import limit is "
                         f"{MAX_IMPORT_BYTES // 2**20} MB. Split the file and import the parts.")
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at position "
                         f"{error.start}); export it again as UTF-8") from None


def _identities(study: Study) -> list[tuple[str, str]]:
    """How a study is recognised, in order of trust: DOI, then arXiv id, then normalised title."""
    ids = []
    if study.doi:
        ids.append(("DOI", study.doi.lower()))
    if study.arxiv_id:
        ids.append(("arXiv id", arxiv_base(study.arxiv_id).lower()))
    ids.append(("title", normalise_title(study.title)))
    return ids


def _annotation_problems(row: dict[str, str], taxonomy) -> list[str]:
    problems = [f"column '{column}' has {len(value):,} characters (the limit is {MAX_FIELD_CHARS:,})"
                for column, value in row.items() if len(value) > MAX_FIELD_CHARS]
    for column in VOCABULARY_COLUMNS:
        value = row.get(column, "")
        if value and value not in taxonomy.vocabulary(column):
            allowed = ", ".join(taxonomy.vocabulary(column))
            problems.append(f"unknown {column} '{excerpt(value)}' (allowed: {allowed})")
    if row.get("source") and len(row["source"]) <= MAX_FIELD_CHARS:
        problems += [problem for problem in [source_link_problem(row["source"])] if problem]
    return problems


def _free_key(key: str, taken: set[str]) -> str:
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}-{n}", n + 1
    return candidate


def import_bibtex(bibtex: bytes | str | os.PathLike, annotations: bytes | str | os.PathLike | None = None,
                  *, dry_run: bool = False) -> ImportReport:
    """Add the studies of a BibTeX file to the user layer.

    Args:
        bibtex: The uploaded bytes, or a path to a .bib file.
        annotations: Optional CSV (bytes or path) with a ``key`` column and any of the columns of
            studies.csv; its vocabulary must be that of the taxonomy.
        dry_run: Report what would happen without writing anything.

    Returns:
        The report. An entry is a duplicate when its DOI, else its arXiv id, else its normalised
        title is already in the catalogue (or earlier in the same file). A new entry whose key is
        taken gets a suffix ("-2").

    Raises:
        ValueError: when a file is missing, too large, not UTF-8, or the CSV has no key column.
    """
    from sslcore.catalogue.store import load_catalogue, update_user_layer

    text = read_upload(bibtex, "the BibTeX upload")
    rows = {}
    report = ImportReport()
    taxonomy = load_taxonomy()
    if annotations is not None:
        for row in read_annotations(read_upload(annotations, "the annotations upload"), "annotations CSV"):
            problems = _annotation_problems(row, taxonomy)
            if problems:
                report.rejected.append(Rejection(f"annotations for {excerpt(row.get('key', '')) or '(no key)'}",
                                                 "; ".join(problems)))
            else:
                rows[row.get("key", "")] = row
    entries, failures = parse_bibtex(text)
    report.rejected += [Rejection(f"line {line}", reason) for line, reason in failures]
    usable = []
    for entry in entries:
        problems = entry_problems(entry)
        if problems:
            report.rejected.append(Rejection(excerpt(entry.key) or f"line {entry.line}", "; ".join(problems)))
        else:
            usable.append(entry)

    def add(catalogue) -> list[Study] | None:
        """Sort the usable entries into added and duplicates against ``catalogue`` (read under the
        user layer's lock, so that a concurrent import is seen); the new user layer, or None."""
        known = {identity: study.key for study in catalogue.studies for identity in _identities(study)}
        taken = {study.key for study in catalogue.studies}
        for entry in usable:
            notes = rows.get(entry.key, {})
            key = _free_key(entry.key, taken)
            study = study_from(BibEntry(key, entry.entry_type, entry.fields, entry.line), notes, user_added=True,
                               method_families=taxonomy.method_families(notes.get("ssl_method", "")))
            identities = _identities(study)
            match = next(((kind, known[(kind, value)]) for kind, value in identities if (kind, value) in known),
                         None)
            if match:
                report.duplicates.append(Duplicate(entry.key, study.title, match[1], match[0]))
                continue
            known.update({identity: key for identity in identities})
            taken.add(key)
            report.added.append(study)
        if not report.added or dry_run:
            return None
        return [s for s in catalogue.studies if s.user_added] + report.added

    if dry_run:
        add(load_catalogue())
    else:
        update_user_layer(add)
    used_rows = {entry.key for entry in usable}
    report.rejected += [Rejection(f"annotations for {excerpt(key)}", "no BibTeX entry with this key in the upload")
                        for key in rows if key not in used_rows]
    return report
