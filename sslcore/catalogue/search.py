"""Ranked full-text search over the catalogue: BM25 (Robertson & Zaragoza, 2009, "The Probabilistic
Relevance Framework: BM25 and Beyond") with per-field weights, in the spirit of BM25F."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict

from sslcore.catalogue.text import tokenize

# Where a word occurs matters: a word of the title or the method says more than one of the claim.
FIELD_WEIGHTS = {"title": 3.0, "ssl_method": 3.0, "method_families": 2.0, "authors": 1.5,
                 "venue": 1.0, "claim": 1.0, "pretrain_data": 1.0}
# A query word also matches longer words it starts ("contrast" finds "contrastive"), ranked lower.
PREFIX_MIN_LENGTH = 3
PREFIX_DISCOUNT = 0.6


class SearchIndex:
    """An inverted index of studies, scored with BM25 over field-weighted term frequencies.

    Args:
        studies: The studies to index; results refer to them by position.
        k1: BM25 term-frequency saturation.
        b: BM25 document-length normalisation.
    """

    def __init__(self, studies, k1: float = 1.2, b: float = 0.75):
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        import numpy as np

        weighted_tf: list[dict[str, float]] = []
        lengths = []
        for study in studies:
            tf: dict[str, float] = defaultdict(float)
            length = 0.0
            for field, weight in FIELD_WEIGHTS.items():
                value = getattr(study, field)
                words = tokenize(" ".join(value) if isinstance(value, tuple) else value)
                for word in words:
                    tf[word] += weight
                length += weight * len(words)
            weighted_tf.append(tf)
            lengths.append(length)
        n_docs = len(studies)
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
        self._vocabulary = sorted(self._postings)

    def _expansions(self, word: str):
        """Indexed words matched by the query word ``word``, with the weight of each match."""
        if word in self._postings:
            yield word, 1.0
        if len(word) < PREFIX_MIN_LENGTH:
            return
        start = bisect.bisect_right(self._vocabulary, word)
        for candidate in self._vocabulary[start:]:
            if not candidate.startswith(word):
                break
            yield candidate, PREFIX_DISCOUNT

    def scores(self, query: str):
        """BM25 score of every study for ``query`` (float array, one per study). Every query word
        must match (AND); studies missing one score 0. An empty query gives None."""
        import numpy as np

        words = list(dict.fromkeys(tokenize(query)))
        if not words:
            return None
        total = np.zeros(self._n_docs)
        matched_all = np.ones(self._n_docs, dtype=bool)
        for word in words:
            word_scores = np.zeros(self._n_docs)
            for match, weight in self._expansions(word):
                docs, scores = self._postings[match]
                np.maximum.at(word_scores, docs, scores * weight)
            matched_all &= word_scores > 0
            total += word_scores
        return np.where(matched_all, total, 0.0)
