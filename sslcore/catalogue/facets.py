"""Facet filters over studies and the count of each facet value within a result."""

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
    "strategy": ("ssl_strategy", False),
    "method": ("method_families", True),
    "review": ("reviews", True),
    "year": ("year", False),
    "source": ("source", False),
}
# Facets chosen from a list of values; the year is a range instead.
VALUE_FACETS = ("modality", "anatomy", "task", "strategy", "method", "review", "source")


@dataclass(frozen=True)
class Filters:
    """Which studies to keep. Within a facet any selected value matches (OR); facets combine with
    AND; an empty selection does not filter. Years are inclusive; a study without a year is kept
    only when no year bound is set."""
    modality: frozenset[str] = frozenset()
    anatomy: frozenset[str] = frozenset()
    task: frozenset[str] = frozenset()
    strategy: frozenset[str] = frozenset()
    method: frozenset[str] = frozenset()
    review: frozenset[str] = frozenset()
    source: frozenset[str] = frozenset()
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

    def matches(self, study) -> bool:
        for facet in VALUE_FACETS:
            selected = getattr(self, facet)
            if selected and selected.isdisjoint(_values(study, facet)):
                return False
        if self.year_from is not None or self.year_to is not None:
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
