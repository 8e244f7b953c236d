"""Timing of catalogue search plus facet counts over a synthetic catalogue of many studies."""

from __future__ import annotations

import dataclasses
import random
import statistics
import time

QUERIES = ("moco chest", "contrastive", "masked autoencoder", "histopathology dino", "segmentation ct",
           "rubik", "retina fundus", "self-supervised", "zhou", "", "simclr dermatology", "ultrasound video")


def synthetic_catalogue(n_studies: int, seed: int = 0):
    """A catalogue of ``n_studies`` made by copying shipped studies with perturbed keys, years and
    titles (words swapped in from other studies), so that the vocabulary and facets stay realistic."""
    from sslcore.catalogue.store import Catalogue, load_catalogue

    shipped = load_catalogue(include_user=False).studies
    rng = random.Random(seed)
    words = [w for s in shipped for w in s.title.split()]
    studies = []
    for i in range(n_studies):
        base = shipped[i % len(shipped)]
        title = base.title.split()
        title[rng.randrange(len(title))] = rng.choice(words)
        studies.append(dataclasses.replace(base, key=f"{base.key}-{i}", title=" ".join(title),
                                           year=(base.year or 2020) + rng.randint(-2, 2)))
    return Catalogue(tuple(studies))


def run_benchmark(n_studies: int = 5000, repeats: int = 50) -> dict:
    """Median and 95th percentile (ms) of one search plus the facet counts of its result, over
    ``repeats`` rounds of varied queries (some with filters) on ``n_studies`` synthetic studies."""
    if n_studies < 1 or repeats < 1:
        raise ValueError(f"need n_studies >= 1 and repeats >= 1, got {n_studies}, {repeats}")
    from sslcore.catalogue.facets import Filters, facet_counts

    catalogue = synthetic_catalogue(n_studies)
    start = time.perf_counter()
    catalogue.search("warm up")  # builds the index once, as the app does on first load
    index_ms = (time.perf_counter() - start) * 1000
    filters = (Filters(), Filters(strategy={"contrastive"}), Filters(year_from=2021, modality={"x-ray", "ct"}))
    timings, sizes = [], []
    for round_ in range(repeats):
        query = QUERIES[round_ % len(QUERIES)]
        start = time.perf_counter()
        result = catalogue.search(query, filters[round_ % len(filters)])
        facet_counts(result)
        timings.append((time.perf_counter() - start) * 1000)
        sizes.append(len(result))
    timings.sort()
    return {"n_studies": n_studies, "repeats": repeats, "index_build_ms": round(index_ms, 1),
            "median_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 2),
            "max_ms": round(timings[-1], 2), "mean_result_size": round(statistics.mean(sizes), 1)}
