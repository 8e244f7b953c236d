"""Facet filters over studies and the count of each facet value, for a result or for the widgets
of a faceted search (each facet counted under the other facets' filters)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter

# Facet name -> the Study attribute holding its value, and whether a study carries several values.
FACETS = {
    "modality": ("modality", False),
    "anatomy": ("anatomy", False),
    "task": ("task", False),
    "scope": ("scope", False),
    "strategy": ("ssl_strategy", False),
    "method": ("method_families", True),
    "year": ("year", False),
    "origin": ("origin", False),
}
# Facets chosen from a list of values; the year is a range instead.
VALUE_FACETS = ("modality", "anatomy", "task", "scope", "strategy", "method", "origin")


@dataclass(frozen=True)
class Filters:
    """Which studies to keep. Within a facet any selected value matches (OR); facets combine with
    AND; an empty selection does not filter. Years are inclusive; a study without a year is kept
    only when no year bound is set."""
    modality: frozenset[str] = frozenset()
    anatomy: frozenset[str] = frozenset()
    task: frozenset[str] = frozenset()
    scope: frozenset[str] = frozenset()
    strategy: frozenset[str] = frozenset()
    method: frozenset[str] = frozenset()
    origin: frozenset[str] = frozenset()
    year_from: int | None = None
    year_to: int | None = None

    def __post_init__(self):
        for facet in VALUE_FACETS:
            value = getattr(self, facet)
            if isinstance(value, str):
                raise ValueError(f"Filters.{facet} takes a set of values, got the string {value!r}")
            object.__setattr__(self, facet, frozenset(value))
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise ValueError(f"year range is empty: year_from={self.year_from} > year_to={self.year_to}")

    @property
    def has_years(self) -> bool:
        return self.year_from is not None or self.year_to is not None

    def matches(self, study) -> bool:
        for facet in VALUE_FACETS:
            selected = getattr(self, facet)
            if selected and selected.isdisjoint(_values(study, facet)):
                return False
        if self.has_years:
            if study.year is None:
                return False
            if self.year_from is not None and study.year < self.year_from:
                return False
            if self.year_to is not None and study.year > self.year_to:
                return False
        return True


def facet_counts(studies) -> dict[str, Counter]:
    """For each facet, how many of ``studies`` carry each value."""
    counts = {}
    for facet, (attribute, several) in FACETS.items():
        values = map(attrgetter(attribute), studies)
        counts[facet] = Counter(chain.from_iterable(values) if several else values)
    return counts


def _values(study, facet: str) -> tuple:
    attribute, several = FACETS[facet]
    value = getattr(study, attribute)
    return value if several else (value,)


class FacetIndex:
    """The facet values of a fixed list of studies as boolean matrices, so that filtering and
    counting thousands of studies are a few array operations.

    Args:
        studies: The studies; masks and counts refer to them by position.
    """

    def __init__(self, studies):
        import numpy as np

        self._values: dict[str, list] = {}
        self._members: dict[str, np.ndarray] = {}  # facet -> bool (n_studies, n_values)
        for facet in (*VALUE_FACETS, "year"):
            per_study = [_values(study, facet) for study in studies]
            values = sorted(set(chain.from_iterable(per_study)), key=lambda v: (v is None, v))
            column = {value: i for i, value in enumerate(values)}
            members = np.zeros((len(per_study), len(values)), dtype=bool)
            for row, study_values in enumerate(per_study):
                members[row, [column[value] for value in study_values]] = True
            self._values[facet], self._members[facet] = values, members
        self._years = np.array([study.year if study.year is not None else -1 for study in studies])
        self._n = len(studies)

    def _facet_mask(self, filters: Filters, facet: str):
        """Studies passing ``filters``' condition on one facet; None when it sets none."""
        import numpy as np

        if facet == "year":
            if not filters.has_years:
                return None
            low = filters.year_from if filters.year_from is not None else 0
            high = filters.year_to if filters.year_to is not None else np.iinfo(self._years.dtype).max
            return (self._years >= low) & (self._years <= high)
        selected = getattr(filters, facet)
        if not selected:
            return None
        columns = [i for i, value in enumerate(self._values[facet]) if value in selected]
        return self._members[facet][:, columns].any(axis=1)

    def mask(self, filters: Filters, within=None):
        """Bool array: the studies passing every filter (and in ``within``, a bool array, if given)."""
        import numpy as np

        result = np.ones(self._n, dtype=bool) if within is None else within.copy()
        for facet in (*VALUE_FACETS, "year"):
            facet_mask = self._facet_mask(filters, facet)
            if facet_mask is not None:
                result &= facet_mask
        return result

    def counts(self, filters: Filters, within=None) -> dict[str, Counter]:
        """For each facet, how many studies carry each of its values among those in ``within`` that
        pass the filters of every OTHER facet: the number a reader would get by choosing that value
        alone, given the rest of the current selection. Values counted 0 are left out."""
        import numpy as np

        base = np.ones(self._n, dtype=bool) if within is None else within
        masks = {facet: self._facet_mask(filters, facet) for facet in (*VALUE_FACETS, "year")}
        counts = {}
        for facet in FACETS:
            keep = base.copy()
            for other, facet_mask in masks.items():
                if other != facet and facet_mask is not None:
                    keep &= facet_mask
            totals = self._members[facet][keep].sum(axis=0)
            counts[facet] = Counter({value: int(n) for value, n in zip(self._values[facet], totals) if n})
        return counts
