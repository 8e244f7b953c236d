"""Ranked full-text search over the catalogue: BM25 (Robertson & Zaragoza, 2009, "The Probabilistic
Relevance Framework: BM25 and Beyond") with per-field weights, in the spirit of BM25F, and the
field's synonyms (review_data/synonyms.yaml) read as one concept on both sides."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict

from sslcore.catalogue.synonyms import CONCEPT_PREFIX, Synonyms, load_synonyms
from sslcore.catalogue.text import tokenize

# Where a word occurs matters: a word of the title or the method says most about a study, the
# subject (modality and body region) and the task describe it, a word of the claim, the pretraining
# data or the venue says less.
FIELD_WEIGHTS = {"title": 3.0, "ssl_method": 3.0, "method_families": 2.0, "subject": 1.5, "task": 1.0,
                 "authors": 1.0, "claim": 1.0, "pretrain_data": 1.0, "venue": 0.5}
# A query word also matches longer words it starts ("contrast" finds "contrastive"), ranked lower.
PREFIX_MIN_LENGTH = 3
PREFIX_DISCOUNT = 0.6
# Facet values too vague to describe a study's subject.
_VAGUE = {"multiple", "other", ""}


def field_texts(study, taxonomy) -> dict[str, str]:
    """The text of each searched field of ``study``. The subject joins the body region and the
    modality ("chest x-ray"), with their display labels, so that a query for "chest X-ray" or "CXR"
    finds every chest radiograph study."""
    subject = [value for value in (study.anatomy, study.modality) if value not in _VAGUE]
    subject += [taxonomy.label(column, value) for column, value in (("modality", study.modality),
                                                                     ("anatomy", study.anatomy))
                if value not in _VAGUE]
    return {"title": study.title, "ssl_method": study.ssl_method, "method_families": " ".join(study.method_families),
            "subject": " ".join(subject), "task": study.task, "authors": " ".join(study.authors),
            "claim": study.claim, "pretrain_data": study.pretrain_data, "venue": study.venue}


class SearchIndex:
    """An inverted index of studies, scored with BM25 over field-weighted term frequencies.

    Args:
        studies: The studies to index; results refer to them by position.
        taxonomy: Gives the display labels of the modality and body region.
        synonyms: Concept groups; a name of a concept in a study or a query counts as the concept.
        k1: BM25 term-frequency saturation.
        b: BM25 document-length normalisation.
    """

    def __init__(self, studies, taxonomy, synonyms: Synonyms | None = None, k1: float = 1.2, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        import numpy as np

        self._synonyms = load_synonyms() if synonyms is None else synonyms
        weighted_tf: list[dict[str, float]] = []
        lengths = []
        for study in studies:
            tf: dict[str, float] = defaultdict(float)
            length = 0.0
            for field, text in field_texts(study, taxonomy).items():
                weight = FIELD_WEIGHTS[field]
                words = tokenize(text)
                for word in words + self._synonyms.concepts_in(words):
                    tf[word] += weight
                length += weight * len(words)
            weighted_tf.append(tf)
            lengths.append(length)
        n_docs = len(weighted_tf)
        mean_length = (sum(lengths) / n_docs) if n_docs else 1.0
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for doc, tf in enumerate(weighted_tf):
            norm = k1 * (1 - b + b * lengths[doc] / (mean_length or 1.0))
            for word, freq in tf.items():
                postings[word].append((doc, freq * (k1 + 1) / (freq + norm)))
        self._n_docs = n_docs
        self._postings = {}
        for word, entries in postings.items():
            idf = math.log(1 + (n_docs - len(entries) + 0.5) / (len(entries) + 0.5))
            docs = np.fromiter((doc for doc, _ in entries), dtype=np.int64, count=len(entries))
            scores = np.fromiter((s for _, s in entries), dtype=np.float64, count=len(entries)) * idf
            self._postings[word] = (docs, scores)
        self._vocabulary = sorted(word for word in self._postings if not word.startswith(CONCEPT_PREFIX))

    def _expansions(self, word: str):
        """Indexed terms matched by the query term ``word``, with the weight of each match. A concept
        matches itself; a word also matches the longer words it starts."""
        if word in self._postings:
            yield word, 1.0
        if word.startswith(CONCEPT_PREFIX) or len(word) < PREFIX_MIN_LENGTH:
            return
        start = bisect.bisect_right(self._vocabulary, word)
        for candidate in self._vocabulary[start:]:
            if not candidate.startswith(word):
                break
            yield candidate, PREFIX_DISCOUNT

    def scores(self, query: str):
        """BM25 score of every study for ``query`` (float array, one per study). Every query word or
        concept must match (AND); studies missing one score 0. An empty query gives None."""
        import numpy as np

        terms = list(dict.fromkeys(self._synonyms.read_query(tokenize(query))))
        if not terms:
            return None
        total = np.zeros(self._n_docs)
        matched_all = np.ones(self._n_docs, dtype=bool)
        for term in terms:
            term_scores = np.zeros(self._n_docs)
            for match, weight in self._expansions(term):
                docs, scores = self._postings[match]
                np.maximum.at(term_scores, docs, scores * weight)
            matched_all &= term_scores > 0
            total += term_scores
        return np.where(matched_all, total, 0.0)
