"""The catalogue the app shows: the shipped studies (review_data/, read-only) plus the user's own
layer (``data_home()/catalogue/user.bib`` + ``user.csv``), parsed once and cached.

The user layer is shared by every browser session and CLI call on the machine. A change to it is a
read-modify-write under an exclusive file lock (``fcntl.flock``), readers take the lock shared, and
the two files are replaced as a pair: both are written in full beside the old ones, a commit marker
is written, then both are renamed into place. A writer that dies before the marker leaves the old
pair (its files are removed on the next read); one that dies after it is finished on the next read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterator

from sslcore.catalogue.facets import Filters
from sslcore.catalogue.study import (ANNOTATION_COLUMNS, Study, entry_problems, parse_bibtex,
                                     read_annotations, study_from, to_bibtex, to_csv)
from sslcore.catalogue.taxonomy import load_taxonomy
from sslcore.catalogue.text import excerpt
from sslcore.io import atomic_write_text
from sslcore.paths import REVIEW_DATA, data_home

SHIPPED_BIB = REVIEW_DATA / "studies.bib"
SHIPPED_CSV = REVIEW_DATA / "studies.csv"
# How long a change or a read of the user layer waits for another one to finish.
LOCK_TIMEOUT_S = 30.0
_LOCK_NAME = ".user.lock"
_COMMIT_NAME = ".user.commit"


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

        return SearchIndex(self.studies, load_taxonomy())

    @cached_property
    def _newest_first(self):
        """Positions of the studies, newest first, then by title."""
        import numpy as np

        order = sorted(range(len(self.studies)), key=lambda i: (-(self.studies[i].year or 0),
                                                                self.studies[i].title.casefold()))
        return np.array(order, dtype=np.int64)

    @cached_property
    def _key_rank(self):
        """Each study's rank in key order (ties of a ranked search are broken by key)."""
        import numpy as np

        ranks = np.empty(len(self.studies), dtype=np.int64)
        ranks[sorted(range(len(self.studies)), key=lambda i: self.studies[i].key)] = np.arange(len(self.studies))
        return ranks

    @cached_property
    def _facets(self):
        from sslcore.catalogue.facets import FacetIndex

        return FacetIndex(self.studies)

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
        return self.browse(query, filters, counts=False).studies

    def browse(self, query: str = "", filters: Filters = Filters(), *, counts: bool = True) -> "Browse":
        """One step of a faceted search: the studies of ``search(query, filters)`` and, unless
        ``counts`` is False, each facet value's count among the studies matching the query and
        the other facets' filters (``FacetIndex.counts``), so that a widget can show what choosing
        the value would give."""
        import numpy as np

        scores = self._index.scores(query)
        matching = None if scores is None else scores > 0
        keep = self._facets.mask(filters, matching)
        if scores is None:
            order = self._newest_first[keep[self._newest_first]]
        else:
            found = np.flatnonzero(keep)
            order = found[np.lexsort((self._key_rank[found], -scores[found]))]
        return Browse([self.studies[i] for i in order],
                      self._facets.counts(filters, matching) if counts else {})


@dataclass(frozen=True)
class Browse:
    """The result of ``Catalogue.browse``: the studies found, best first, and the facet counts."""
    studies: list[Study]
    counts: dict[str, Counter]


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


def _stat(path: Path) -> tuple:
    try:
        s = path.stat()
    except FileNotFoundError:  # never written, or renamed away by a writer just now
        return (str(path),)
    return str(path), s.st_ino, s.st_mtime_ns, s.st_ctime_ns, s.st_size


def _signature(paths) -> tuple:
    return tuple(_stat(path) for path in paths)


def _pending(path: Path) -> Path:
    """Where the next version of a user-layer file is written before it is renamed into place."""
    return path.with_name(f".{path.name}.pending")


@contextlib.contextmanager
def _user_layer_lock(*, exclusive: bool, timeout: float | None = None) -> Iterator[None]:
    """Hold the user layer's file lock (exclusive to change it, shared to read it); ValueError when
    another holder keeps it past ``timeout`` seconds (default LOCK_TIMEOUT_S)."""
    timeout = LOCK_TIMEOUT_S if timeout is None else timeout
    folder = user_layer_paths()[0].parent
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK_NAME, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ValueError(f"your catalogue layer in {folder} is being changed by another import or "
                                     f"removal that has not finished within {timeout:g} s; try again in a "
                                     f"moment") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_in_progress_files() -> list[Path]:
    """The files a change of the user layer writes beside it: present after the change only when
    its writer died."""
    paths = user_layer_paths()
    return [_pending(path) for path in paths] + [paths[0].parent / _COMMIT_NAME]


def _recover_pair() -> None:
    """Finish an interrupted change that got as far as its commit marker, else drop what it wrote.
    Call under the exclusive lock."""
    paths = user_layer_paths()
    folder = paths[0].parent
    commit = folder / _COMMIT_NAME
    if commit.exists():
        for path in paths:
            if _pending(path).exists():
                os.replace(_pending(path), path)
        _fsync_folder(folder)
        commit.unlink()
    else:
        for path in paths:
            _pending(path).unlink(missing_ok=True)
    for leftover in folder.glob(".*.tmp"):  # temporary files of a writer that was killed
        leftover.unlink(missing_ok=True)


def _write_pair(bib_text: str, csv_text: str) -> None:
    """Replace user.bib and user.csv together. Call under the exclusive lock."""
    paths = user_layer_paths()
    folder = paths[0].parent
    for path, text in zip(paths, (bib_text, csv_text)):
        atomic_write_text(_pending(path), text)
    _fsync_folder(folder)
    atomic_write_text(folder / _COMMIT_NAME, "")  # from here on the new pair wins, even after a crash
    _fsync_folder(folder)
    _recover_pair()


def _read_catalogue(layers) -> Catalogue:
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
    return Catalogue(tuple(studies), tuple(warnings))


_cache: dict[tuple, Catalogue] = {}
_cache_lock = threading.Lock()


def _layers(include_user: bool) -> list[tuple[Path, Path, bool]]:
    return [(SHIPPED_BIB, SHIPPED_CSV, False)] + ([(*user_layer_paths(), True)] if include_user else [])


def _signature_of(include_user: bool) -> tuple:
    """The layers' files as they are now, with what an interrupted change of the user layer left
    (so that a cached catalogue is not served while it waits to be recovered)."""
    paths = [path for bib, csv, _ in _layers(include_user) for path in (bib, csv)]
    return _signature(paths + (_write_in_progress_files() if include_user else []))


def load_catalogue(*, include_user: bool = True) -> Catalogue:
    """The shipped catalogue plus (by default) the user layer. Parsed once per version of the
    files: a later call returns the cached catalogue until one of the files changes.

    Raises:
        ValueError: the user layer stayed locked by a change for longer than LOCK_TIMEOUT_S.
    """
    layers = _layers(include_user)
    with _cache_lock:
        cached = _cache.get(_signature_of(include_user))
    if cached is not None:
        return cached
    if not include_user:
        signature, catalogue = _signature_of(include_user), _read_catalogue(layers)
    else:
        with _user_layer_lock(exclusive=False):
            interrupted = any(path.exists() for path in _write_in_progress_files())
            if not interrupted:
                signature, catalogue = _signature_of(include_user), _read_catalogue(layers)
        if interrupted:
            with _user_layer_lock(exclusive=True):
                _recover_pair()
                signature, catalogue = _signature_of(include_user), _read_catalogue(layers)
    with _cache_lock:
        _cache.clear()  # only the current version is worth keeping
        _cache[signature] = catalogue
    return catalogue


def update_user_layer(change: Callable[[Catalogue], list[Study] | None]) -> None:
    """Read-modify-write the user layer under its exclusive lock.

    ``change`` gets the catalogue as it is now (read afresh) and returns the studies the user layer
    should hold, or None to leave it as it is; it must not call ``load_catalogue``. The BibTeX and
    CSV files are replaced together (both or neither).

    Raises:
        ValueError: another change held the lock for longer than LOCK_TIMEOUT_S.
    """
    with _user_layer_lock(exclusive=True):
        _recover_pair()
        studies = change(_read_catalogue(_layers(True)))
        if studies is not None:
            header = "% MedSSL Explorer: studies you added to the catalogue. Annotations are in user.csv.\n\n"
            _write_pair(header + to_bibtex(studies), to_csv([s.annotations() for s in studies], ANNOTATION_COLUMNS))


def remove_user_studies(keys) -> list[str]:
    """Remove the user-added studies with these keys; returns the keys removed. Shipped studies
    cannot be removed (ValueError)."""
    keys = set(keys)
    removed = []

    def remove(catalogue: Catalogue) -> list[Study] | None:
        shipped = sorted(k for k in keys if k in catalogue and not catalogue.get(k).user_added)
        if shipped:
            raise ValueError(f"shipped studies cannot be removed: {', '.join(shipped)}")
        user = [s for s in catalogue.studies if s.user_added]
        removed.extend(sorted(s.key for s in user if s.key in keys))
        return [s for s in user if s.key not in keys] if removed else None

    update_user_layer(remove)
    return removed
