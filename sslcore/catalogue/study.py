"""A study of the catalogue and its two file forms: a BibTeX entry plus a row of annotations."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sslcore.catalogue.text import (arxiv_id_from, clean_latex, excerpt, is_valid_arxiv_id, is_valid_doi,
                                    normalise_doi, split_authors)

# Columns of studies.csv / user.csv, in order: the key joins a row to its BibTeX entry; ``source``
# is the link of the public record that confirms the entry (publisher, PubMed, arXiv, proceedings).
ANNOTATION_COLUMNS = ("key", "modality", "anatomy", "task", "ssl_strategy", "ssl_method",
                      "pretrain_data", "claim", "source")
# The catalogue's subject is image classification (Huang et al. 2023; Zeng et al. 2024). A study's
# scope, derived from its task, says whether it is one (alone or among other tasks) or a neighbour
# the reviews list that is not a classification study.
SCOPE_BY_TASK = {"classification": "classification", "multiple": "classification and other tasks",
                 "segmentation": "segmentation only", "detection": "detection only",
                 "regression": "regression only", "retrieval": "retrieval only"}
CLASSIFICATION_SCOPES = ("classification", "classification and other tasks")
NO_TASK_SCOPE = "task not stated"
# The longest field value (BibTeX field or CSV cell) and citation key accepted. A long abstract has
# about 3,000 characters and an author list of 500 names about 15,000.
MAX_FIELD_CHARS = 20_000
MAX_KEY_CHARS = 200
# BibTeX field naming the venue, by entry type; other types fall back to the first one present.
VENUE_FIELDS = ("journal", "booktitle", "howpublished", "publisher", "school", "institution")
# Fields written first when an entry is exported, in this order; any other field follows.
BIBTEX_FIELD_ORDER = ("title", "author", "journal", "booktitle", "howpublished", "volume", "number",
                      "pages", "publisher", "year", "doi", "eprint", "archiveprefix", "url")


@dataclass(frozen=True)
class BibEntry:
    """One parsed BibTeX entry: its raw fields (lower-case names) and where it started."""
    key: str
    entry_type: str
    fields: dict[str, str]
    line: int


@dataclass(frozen=True)
class Study:
    """A study: bibliographic facts (from BibTeX) plus its annotations (from the CSV).

    ``bibtex_fields`` keeps the entry's fields as written, so export reproduces them; the other
    bibliographic attributes are the same facts cleaned for display and search.
    """
    key: str
    entry_type: str
    bibtex_fields: dict[str, str]
    title: str
    authors: tuple[str, ...]
    year: int | None
    venue: str
    doi: str
    arxiv_id: str
    url: str
    modality: str = ""
    anatomy: str = ""
    task: str = ""
    ssl_strategy: str = ""
    ssl_method: str = ""
    pretrain_data: str = ""
    claim: str = ""
    source: str = ""
    method_families: tuple[str, ...] = ()
    user_added: bool = False

    @property
    def origin(self) -> str:
        """"user" for a study the user imported, "shipped" for one of review_data/."""
        return "user" if self.user_added else "shipped"

    @property
    def scope(self) -> str:
        """"classification", "classification and other tasks", or the neighbour's task ("segmentation
        only"...); "task not stated" without a task."""
        return SCOPE_BY_TASK.get(self.task, NO_TASK_SCOPE if not self.task else f"{self.task} only")

    @property
    def doi_url(self) -> str:
        return f"https://doi.org/{self.doi}" if self.doi else ""

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else ""

    def annotations(self) -> dict[str, str]:
        """The study's CSV row."""
        return {column: getattr(self, column) for column in ANNOTATION_COLUMNS}


def parse_bibtex(text: str) -> tuple[list[BibEntry], list[tuple[int, str]]]:
    """Parse BibTeX ``text``. Returns the entries and, for each block that could not be read, its
    line (1-based) and the reason."""
    import bibtexparser
    from bibtexparser.model import DuplicateBlockKeyBlock, ParsingFailedBlock

    library = bibtexparser.parse_string(text)
    entries = [BibEntry(entry.key.strip(), entry.entry_type.lower(),
                        {f.key.lower(): str(f.value).strip() for f in entry.fields if str(f.value).strip()},
                        entry.start_line + 1)
               for entry in library.entries]
    failures = []
    for block in library.failed_blocks:
        if isinstance(block, DuplicateBlockKeyBlock):
            reason = f"duplicate key '{excerpt(block.key)}'"
        elif isinstance(block, ParsingFailedBlock):
            detail = excerpt(" ".join(str(block.error).split()), 200) or type(block.error).__name__
            reason = f"unreadable BibTeX ({detail})"
        else:
            reason = "unreadable BibTeX block"
        failures.append((block.start_line + 1, reason))
    return entries, failures


def entry_problems(entry: BibEntry) -> list[str]:
    """What makes ``entry`` unusable for the catalogue: a key or field over the length limits, no key,
    no title or year, a malformed DOI or arXiv id. Empty when the entry is fine."""
    too_long = []
    if len(entry.key) > MAX_KEY_CHARS:
        too_long.append(f"citation key has {len(entry.key):,} characters (the limit is {MAX_KEY_CHARS})")
    for name, value in entry.fields.items():
        if len(name) > MAX_KEY_CHARS:
            too_long.append(f"a field name has {len(name):,} characters (the limit is {MAX_KEY_CHARS})")
        elif len(value) > MAX_FIELD_CHARS:
            too_long.append(f"field '{name}' has {len(value):,} characters (the limit is {MAX_FIELD_CHARS:,})")
    if too_long:  # nothing else is looked at: an over-long value is not worth processing
        return too_long
    problems = []
    if not entry.key:
        problems.append("entry has no citation key")
    if not clean_latex(entry.fields.get("title", "")):
        problems.append("missing title")
    year = entry.fields.get("year", "").strip("{} ")
    if not year:
        problems.append("missing year")
    elif not (year.isdigit() and len(year) == 4):
        problems.append(f"year '{excerpt(year)}' is not a four-digit year")
    doi = normalise_doi(entry.fields.get("doi", ""))
    if doi and not is_valid_doi(doi):
        problems.append(f"malformed DOI '{excerpt(doi)}' (expected 10.<registrant>/<suffix>)")
    arxiv_id = arxiv_id_from(entry.fields)
    if arxiv_id and not is_valid_arxiv_id(arxiv_id):
        problems.append(f"malformed arXiv id '{excerpt(arxiv_id)}' (expected e.g. 2002.05709)")
    return problems


def study_from(entry: BibEntry, annotations: dict[str, str] | None = None, *,
               method_families: tuple[str, ...] = (), user_added: bool = False) -> Study:
    """Combine a (valid) BibTeX entry with its annotation row into a Study."""
    fields = entry.fields
    venue = next((fields[name] for name in VENUE_FIELDS if fields.get(name)), "")
    year = fields.get("year", "").strip("{} ")
    notes = {column: (annotations or {}).get(column, "") or "" for column in ANNOTATION_COLUMNS[1:]}
    return Study(key=entry.key, entry_type=entry.entry_type, bibtex_fields=dict(fields),
                 title=clean_latex(fields.get("title", "")),
                 authors=tuple(split_authors(fields.get("author", ""))),
                 year=int(year) if year.isdigit() else None, venue=clean_latex(venue),
                 doi=normalise_doi(fields.get("doi", "")), arxiv_id=arxiv_id_from(fields),
                 url=fields.get("url", ""), method_families=method_families,
                 user_added=user_added, **notes)


def to_bibtex(studies) -> str:
    """The studies as BibTeX text, each entry with its fields as originally written."""
    blocks = []
    for study in studies:
        fields = study.bibtex_fields
        ordered = [name for name in BIBTEX_FIELD_ORDER if name in fields]
        ordered += sorted(name for name in fields if name not in BIBTEX_FIELD_ORDER)
        width = max((len(name) for name in ordered), default=0)
        lines = [f"  {name.ljust(width)} = {{{_braced(fields[name])}}}" for name in ordered]
        blocks.append(f"@{study.entry_type}{{{study.key},\n" + ",\n".join(lines) + "\n}\n")
    return "\n".join(blocks)


def _braced(value: str) -> str:
    # A value with unbalanced braces would break the file; drop its braces rather than lose the entry.
    depth = 0
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    return value if depth == 0 else value.replace("{", "").replace("}", "")


def read_annotations(text: str, source: str) -> list[dict[str, str]]:
    """Rows of an annotations CSV; raises ValueError naming ``source`` when it has no ``key`` column
    or cannot be read as CSV (a cell over the csv module's 128 KiB limit, for one)."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames or "key" not in [name.strip() for name in reader.fieldnames]:
            raise ValueError(f"{source}: an annotations CSV needs a 'key' column "
                             f"(columns allowed: {', '.join(ANNOTATION_COLUMNS)})")
        return [{(name or "").strip(): (value or "").strip() for name, value in row.items()
                 if name and name.strip() in ANNOTATION_COLUMNS}
                for row in reader]
    except csv.Error as error:
        raise ValueError(f"{source} line {reader.line_num + 1}: not readable as CSV ({error})") from None


def to_csv(rows: list[dict[str, str]], columns) -> str:
    """Rows as CSV text with the given columns."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
