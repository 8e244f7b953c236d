"""The catalogue's controlled vocabulary (review_data/taxonomy.yaml), read by the validator and the app."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sslcore.catalogue.text import tokenize
from sslcore.paths import REVIEW_DATA

TAXONOMY_FILE = REVIEW_DATA / "taxonomy.yaml"
# Annotation column -> taxonomy section holding its allowed values.
VOCABULARY_COLUMNS = {"modality": "modalities", "anatomy": "anatomies", "task": "tasks",
                      "ssl_strategy": "strategies"}


@dataclass(frozen=True)
class Term:
    """One allowed value of a vocabulary column, with its display label and plain explanation."""
    value: str
    label: str
    explanation: str


@dataclass(frozen=True)
class MethodFamily:
    """A well-known SSL method, recognised in free-text method descriptions by its aliases."""
    name: str
    strategy: str
    aliases: tuple[tuple[str, ...], ...]  # each alias as a word sequence


@dataclass(frozen=True)
class Taxonomy:
    strategies: dict[str, Term]
    modalities: dict[str, Term]
    anatomies: dict[str, Term]
    tasks: dict[str, Term]
    methods: tuple[MethodFamily, ...]

    def vocabulary(self, column: str) -> dict[str, Term]:
        """Allowed values of an annotation column ("modality", "anatomy", "task", "ssl_strategy")."""
        return getattr(self, VOCABULARY_COLUMNS[column])

    def label(self, column: str, value: str) -> str:
        """Display label of ``value`` in ``column``; "not stated" for an empty value."""
        if not value:
            return "not stated"
        term = self.vocabulary(column).get(value)
        return term.label if term else value

    def method_families(self, method_text: str) -> tuple[str, ...]:
        """Names of the method families whose alias occurs as whole words in ``method_text``."""
        words = tokenize(method_text)
        found = []
        for family in self.methods:
            if any(_contains(words, alias) for alias in family.aliases):
                found.append(family.name)
        return tuple(found)


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == phrase for i in range(len(words) - n + 1))


def _terms(raw: dict, section: str, path: Path) -> dict[str, Term]:
    entries = raw.get(section)
    if not isinstance(entries, dict) or not entries:
        raise ValueError(f"{path}: section '{section}' is missing or empty")
    terms = {}
    for value, info in entries.items():
        if not isinstance(info, dict) or not info.get("label") or not info.get("explanation"):
            raise ValueError(f"{path}: {section}.{value} needs a 'label' and an 'explanation'")
        terms[str(value)] = Term(str(value), str(info["label"]), " ".join(str(info["explanation"]).split()))
    return terms


def _methods(raw: dict, strategies: dict[str, Term], path: Path) -> tuple[MethodFamily, ...]:
    families = []
    for name, info in (raw.get("methods") or {}).items():
        if not isinstance(info, dict) or info.get("strategy") not in strategies or not info.get("aliases"):
            raise ValueError(f"{path}: methods.{name} needs a known 'strategy' and a list of 'aliases'")
        aliases = tuple(tuple(tokenize(str(alias))) for alias in info["aliases"])
        families.append(MethodFamily(str(name), info["strategy"], aliases))
    return tuple(families)


def read_taxonomy(path: str | Path) -> Taxonomy:
    """Read and validate a taxonomy file; raises ValueError naming the file and the faulty entry."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of sections at the top level")
    strategies = _terms(raw, "strategies", path)
    return Taxonomy(strategies=strategies, modalities=_terms(raw, "modalities", path),
                    anatomies=_terms(raw, "anatomies", path), tasks=_terms(raw, "tasks", path),
                    methods=_methods(raw, strategies, path))


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy, read once."""
    return read_taxonomy(TAXONOMY_FILE)
