"""The search's vocabulary of the field (review_data/synonyms.yaml): names of one concept ("MAE",
"masked autoencoder", "masked image modelling") that a query treats as one.

A study's text is indexed with a concept term for every name it contains (its group's terms and
narrower names); a query's names are replaced by their concept term, so that a query finds a study
whatever name either uses. Names match as whole word sequences, ignoring a plural "s".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sslcore.catalogue.text import singular, tokenize
from sslcore.paths import REVIEW_DATA

SYNONYMS_FILE = REVIEW_DATA / "synonyms.yaml"
# A concept's index term: "~" never occurs in a word of the tokenizer, so it cannot collide.
CONCEPT_PREFIX = "~"


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(singular(word) for word in tokenize(text))


@dataclass(frozen=True)
class Synonyms:
    """Concept groups. ``terms`` and ``mentions`` map a word sequence (singular words) to concept
    terms: ``terms`` for the names a query is read with, ``mentions`` (terms plus narrower names)
    for the names found in a study."""
    terms: dict[tuple[str, ...], str]
    mentions: dict[tuple[str, ...], tuple[str, ...]]
    longest: int = field(init=False)
    lengths: dict[str, tuple[int, ...]] = field(init=False)  # first word of a name -> name lengths, longest first

    def __post_init__(self):
        lengths: dict[str, set[int]] = {}
        for phrase in self.mentions:
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        object.__setattr__(self, "longest", max(map(len, self.terms), default=0))
        object.__setattr__(self, "lengths", {word: tuple(sorted(n, reverse=True)) for word, n in lengths.items()})

    def concepts_in(self, words: list[str]) -> list[str]:
        """The concept term of every name occurring in ``words`` (tokenized text), once per
        occurrence: "chest radiograph" names chest x-ray and x-ray once each, though "radiograph"
        alone is also a name of x-ray."""
        words = [singular(word) for word in words]
        found, covered_to = [], {}  # concept -> end of its last occurrence
        for start, word in enumerate(words):
            for length in self.lengths.get(word, ()):  # longest name first
                end = start + length
                for concept in self.mentions.get(tuple(words[start:end]), ()) if end <= len(words) else ():
                    if covered_to.get(concept, 0) <= start:
                        found.append(concept)
                        covered_to[concept] = end
        return found

    def read_query(self, words: list[str]) -> list[str]:
        """``words`` of a query with each name of a concept (longest first, left to right) replaced
        by its concept term; other words unchanged."""
        folded = [singular(word) for word in words]
        read, start = [], 0
        while start < len(words):
            for end in range(min(start + self.longest, len(words)), start, -1):
                concept = self.terms.get(tuple(folded[start:end]))
                if concept:
                    read.append(concept)
                    start = end
                    break
            else:
                read.append(words[start])
                start += 1
        return read


def read_synonyms(path: str | Path) -> Synonyms:
    """Read and validate a synonyms file; ValueError naming the file and the faulty group."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    groups = raw.get("groups") if isinstance(raw, dict) else None
    if not isinstance(groups, dict) or not groups:
        raise ValueError(f"{path}: expected a 'groups' mapping of concept names to their terms")
    terms: dict[tuple[str, ...], str] = {}
    mentions: dict[tuple[str, ...], list[str]] = {}
    for name, group in groups.items():
        if not isinstance(group, dict) or not isinstance(group.get("terms"), list) or not group["terms"] \
                or not isinstance(group.get("narrower", []), list) or set(group) - {"terms", "narrower"}:
            raise ValueError(f"{path}: group '{name}' needs a list of 'terms' (and optionally of 'narrower')")
        concept = CONCEPT_PREFIX + " ".join(tokenize(str(name)))
        for kind in ("terms", "narrower"):
            for text in group.get(kind, []):
                phrase = _phrase(str(text))
                if not phrase:
                    what = "term" if kind == "terms" else "narrower name"
                    raise ValueError(f"{path}: group '{name}' has a {what} without a word: {text!r}")
                if kind == "terms":
                    if terms.get(phrase, concept) != concept:
                        raise ValueError(f"{path}: '{text}' is a term of two groups, "
                                         f"'{terms[phrase][1:]}' and '{name}'")
                    terms[phrase] = concept
                if concept not in mentions.setdefault(phrase, []):
                    mentions[phrase].append(concept)
    return Synonyms(terms, {phrase: tuple(concepts) for phrase, concepts in mentions.items()})


@lru_cache(maxsize=1)
def load_synonyms() -> Synonyms:
    """The shipped synonyms, read once."""
    return read_synonyms(SYNONYMS_FILE)


def check(review_dir: Path) -> list:
    """Problems of synonyms.yaml (for ``python -m sslcore catalogue check``)."""
    from sslcore.catalogue.checks import Problem

    path = review_dir / "synonyms.yaml"
    if not path.is_file():
        return [Problem(path.name, "file", "missing")]
    try:
        read_synonyms(path)
    except ValueError as error:
        return [Problem(path.name, "file", str(error))]
    return []
