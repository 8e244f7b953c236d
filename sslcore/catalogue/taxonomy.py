"""The catalogue's controlled vocabulary (review_data/taxonomy.yaml), read by the validator and the app."""

from __future__ import annotations

from dataclasses import dataclass, field
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


# Characters of an ssl_method that join the parts of a combined method ("MoCo + rotation").
_JOINS = ("+", " plus ", "combined with", "combining", "combines")


@dataclass(frozen=True)
class Taxonomy:
    strategies: dict[str, Term]
    modalities: dict[str, Term]
    anatomies: dict[str, Term]
    tasks: dict[str, Term]
    methods: tuple[MethodFamily, ...]
    strategy_cues: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    comparison_cues: tuple[tuple[str, ...], ...] = ()

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

    def strategy_problem(self, method_text: str, strategy: str) -> str | None:
        """Why ``strategy`` breaks the methods map for a study whose method is ``method_text``, or
        None. A method naming exactly one family carries that family's strategy; it may instead be
        "hybrid" when it also names an objective of another strategy or joins parts ("+", "plus"),
        and leave the strategy empty when it compares methods. Methods naming no family or several
        families are not constrained."""
        names = self.method_families(method_text)
        if len(names) != 1:
            return None
        family = next(f for f in self.methods if f.name == names[0])
        if strategy == family.strategy:
            return None
        words = tokenize(method_text)
        if strategy == "hybrid":
            other = any(_contains(words, cue) for value, cues in self.strategy_cues.items()
                        if value != family.strategy for cue in cues)
            if other or any(join in f" {method_text.casefold()} " for join in _JOINS):
                return None
        if not strategy and any(_contains(words, cue) for cue in self.comparison_cues):
            return None
        return (f"ssl_method names {family.name} ({family.strategy}) but ssl_strategy is "
                f"'{strategy or 'empty'}' (taxonomy.yaml methods map; a hybrid method names another objective, "
                f"a study comparing methods says so)")


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


def _cue_list(values, where: str, path: Path) -> tuple[tuple[str, ...], ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and tokenize(v) for v in values):
        raise ValueError(f"{path}: {where} needs a list of words")
    return tuple(tuple(tokenize(value)) for value in values)


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
    cues = raw.get("strategy_cues") or {}
    unknown = [name for name in cues if name not in strategies]
    if not isinstance(cues, dict) or unknown:
        raise ValueError(f"{path}: strategy_cues maps strategies to words; unknown strategy: {', '.join(unknown)}")
    return Taxonomy(strategies=strategies, modalities=_terms(raw, "modalities", path),
                    anatomies=_terms(raw, "anatomies", path), tasks=_terms(raw, "tasks", path),
                    methods=_methods(raw, strategies, path),
                    strategy_cues={name: _cue_list(words, f"strategy_cues.{name}", path)
                                   for name, words in cues.items()},
                    comparison_cues=_cue_list(raw.get("comparison_cues") or [], "comparison_cues", path))


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy, read once."""
    return read_taxonomy(TAXONOMY_FILE)
