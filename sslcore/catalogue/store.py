"""The catalogue the app shows: the shipped studies (review_data/, read-only) plus the user's own
layer (``data_home()/catalogue/user.bib`` + ``user.csv``), parsed once and cached."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sslcore.catalogue.facets import Filters
from sslcore.catalogue.study import (ANNOTATION_COLUMNS, Study, entry_problems, parse_bibtex,
                                     read_annotations, study_from, to_bibtex, to_csv)
from sslcore.catalogue.taxonomy import load_taxonomy
from sslcore.catalogue.text import excerpt
from sslcore.io import atomic_write_text
from sslcore.paths import REVIEW_DATA, data_home

SHIPPED_BIB = REVIEW_DATA / "studies.bib"
SHIPPED_CSV = REVIEW_DATA / "studies.csv"


def user_layer_paths() -> tuple[Path, Path]:
    """The user layer's BibTeX and annotations files (they may not exist yet)."""
    folder = data_home() / "catalogue"
    return folder / "user.bib", folder / "user.csv"


@dataclass(frozen=True)
class Catalogue:
    """Studies in display order (shipped first, then the user's), with search and lookup.

    ``warnings`` lists what could not be read (for example a hand-edited user.bib) and was skipped.
    """
    studies: tuple[Study, ...]
    warnings: tuple[str, ...] = ()

    @cached_property
    def _by_key(self) -> dict[str, Study]:
        return {study.key: study for study in self.studies}

    @cached_property
    def _index(self):
        from sslcore.catalogue.search import SearchIndex

        return SearchIndex(self.studies)

    def __len__(self) -> int:
        return len(self.studies)

    def get(self, key: str) -> Study:
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(f"no study with key '{key}' in the catalogue") from None

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def search(self, query: str = "", filters: Filters = Filters()) -> list[Study]:
        """Studies matching every word of ``query`` and the filters, best match first; with an
        empty query, all studies passing the filters, newest first."""
        scores = self._index.scores(query)
        if scores is None:
            hits = [s for s in self.studies if filters.matches(s)]
            return sorted(hits, key=lambda s: (-(s.year or 0), s.title.casefold()))
        ranked = sorted((i for i in scores.nonzero()[0]), key=lambda i: (-scores[i], self.studies[i].key))
        return [self.studies[i] for i in ranked if filters.matches(self.studies[i])]


def read_layer(bib_text: str, csv_text: str, source: str, *, user_added: bool) -> tuple[list[Study], list[str]]:
    """Studies of one layer and warnings for the entries skipped. ``source`` names the layer."""
    taxonomy = load_taxonomy()
    entries, failures = parse_bibtex(bib_text)
    warnings = [f"{source}.bib line {line}: {reason}; skipped" for line, reason in failures]
    annotations = {}
    if csv_text.strip():
        try:
            annotations = {row.get("key", ""): row for row in read_annotations(csv_text, f"{source}.csv")}
        except ValueError as error:
            warnings.append(f"{error}; annotations ignored")
    studies, seen = [], set()
    for entry in entries:
        problems = entry_problems(entry) + (["duplicate key"] if entry.key in seen else [])
        if problems:
            warnings.append(f"{source}.bib line {entry.line} ({excerpt(entry.key) or 'no key'}): "
                            f"{'; '.join(problems)}; skipped")
            continue
        seen.add(entry.key)
        notes = annotations.get(entry.key, {})
        studies.append(study_from(entry, notes, user_added=user_added,
                                  method_families=taxonomy.method_families(notes.get("ssl_method", ""))))
    return studies, warnings


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8-sig") if path.exists() else ""


def _signature(paths) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) if p.exists() else (str(p),)
                 for p in paths)


_cache: dict[tuple, Catalogue] = {}
_cache_lock = threading.Lock()


def load_catalogue(*, include_user: bool = True) -> Catalogue:
    """The shipped catalogue plus (by default) the user layer. Parsed once per version of the
    files: a later call returns the cached catalogue until one of the files changes."""
    user_bib, user_csv = user_layer_paths()
    layers = [(SHIPPED_BIB, SHIPPED_CSV, False)] + ([(user_bib, user_csv, True)] if include_user else [])
    signature = _signature([path for bib, csv, _ in layers for path in (bib, csv)])
    with _cache_lock:
        if signature in _cache:
            return _cache[signature]
    studies, warnings, keys = [], [], set()
    for bib, csv, user_added in layers:
        layer, layer_warnings = read_layer(_read_text(bib), _read_text(csv), str(bib.with_suffix("")),
                                           user_added=user_added)
        warnings += layer_warnings
        for study in layer:
            if study.key in keys:
                warnings.append(f"{bib}: key '{study.key}' is already in the catalogue; skipped")
                continue
            keys.add(study.key)
            studies.append(study)
    catalogue = Catalogue(tuple(studies), tuple(warnings))
    with _cache_lock:
        _cache.clear()  # only the current version is worth keeping
        _cache[signature] = catalogue
    return catalogue


def write_user_layer(studies: list[Study]) -> None:
    """Replace the user layer with ``studies`` (each file written atomically)."""
    bib_path, csv_path = user_layer_paths()
    header = "% MedSSL Explorer: studies you added to the catalogue. Annotations are in user.csv.\n\n"
    atomic_write_text(bib_path, header + to_bibtex(studies))
    atomic_write_text(csv_path, to_csv([s.annotations() for s in studies], ANNOTATION_COLUMNS))


def remove_user_studies(keys) -> list[str]:
    """Remove the user-added studies with these keys; returns the keys removed. Shipped studies
    cannot be removed (ValueError)."""
    keys = set(keys)
    catalogue = load_catalogue()
    shipped = sorted(k for k in keys if k in catalogue and not catalogue.get(k).user_added)
    if shipped:
        raise ValueError(f"shipped studies cannot be removed: {', '.join(shipped)}")
    user = [s for s in catalogue.studies if s.user_added]
    kept = [s for s in user if s.key not in keys]
    if len(kept) != len(user):
        write_user_layer(kept)
    return sorted(s.key for s in user if s.key in keys)
