"""Search ranking (field weights, synonyms), facet filters and counts, on the shipped catalogue and
on small hand-made ones."""

import random
from collections import Counter
from dataclasses import replace

import pytest

from sslcore.catalogue import (CLASSIFICATION_SCOPES, FacetIndex, Filters, facet_counts, load_catalogue,
                               load_taxonomy)
from sslcore.catalogue.facets import FACETS, VALUE_FACETS
from sslcore.catalogue.search import SearchIndex
from sslcore.catalogue.store import Catalogue
from sslcore.catalogue.study import BibEntry, study_from
from sslcore.catalogue.synonyms import Synonyms, read_synonyms

MIM = "Masked image modelling (MAE, SimMIM)"
REVIEW_MODALITIES = ("x-ray", "ct", "mri", "ultrasound", "histopathology", "dermatology", "fundus", "oct",
                     "endoscopy", "mammography")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(include_user=False)


def _keys(studies):
    return {s.key for s in studies}


def test_moco_chest_ranks_moco_cxr_first(catalogue):
    results = catalogue.search("moco chest")
    assert results[0].key == "sowrirajan2021moco"
    # every word must match: each hit names MoCo and concerns the chest
    assert all("MoCo" in s.method_families or "moco" in s.title.lower() or "momentum" in s.title.lower()
               for s in results)
    assert all(s.anatomy == "chest" or "chest" in " ".join([s.title, s.claim, s.pretrain_data, s.ssl_method]).lower()
               for s in results)


def test_masked_autoencoder_ct_ranks_a_ct_masked_image_modelling_study_first(catalogue):
    results = catalogue.search("masked autoencoder CT")
    assert results[0].modality == "ct" and MIM in results[0].method_families
    # the first five are all CT masked-image-modelling studies, HySparK among them
    assert all(s.modality == "ct" and MIM in s.method_families for s in results[:5])
    assert "tang2024hyspark" in _keys(results[:5])


@pytest.mark.parametrize("names", [
    ("masked autoencoder", "MAE", "MIM", "masked image modelling", "masked image modeling"),
    ("MoCo", "momentum contrast"),
    ("CXR", "chest X-ray", "chest radiograph", "chest radiographs"),
    ("CT", "computed tomography"),
    ("OCT", "optical coherence tomography"),
    ("WSI", "whole-slide image", "histopathology"),
    ("self-supervised", "SSL"),
])
def test_names_of_one_concept_find_the_same_studies(catalogue, names):
    found = [_keys(catalogue.search(name)) for name in names]
    assert found[0] and all(keys == found[0] for keys in found), names


def test_a_narrower_name_stays_literal_but_its_group_finds_it(catalogue):
    dinov2 = _keys(catalogue.search("dinov2"))
    dino = _keys(catalogue.search("DINO"))
    assert dinov2 and dinov2 < dino  # every DINOv2 study is a DINO-family study, not the other way round
    assert "tang2024hyspark" in _keys(catalogue.search("masked image modelling"))  # HySparK is narrower


def test_chest_x_ray_finds_every_chest_radiograph_study(catalogue):
    chest_films = {s.key for s in catalogue.studies if s.modality == "x-ray" and s.anatomy == "chest"}
    assert chest_films and chest_films <= _keys(catalogue.search("chest X-ray"))


def test_search_is_case_and_accent_insensitive(catalogue):
    plain = [s.key for s in catalogue.search("muller")]
    assert plain and plain == [s.key for s in catalogue.search("MÜLLER")]
    assert "ross2018exploiting" in plain  # author "Müller, Beat"


def test_prefix_words_match_longer_words(catalogue):
    assert {s.key for s in catalogue.search("rubik")} >= {"zhuang2019self", "tao2020revisiting"}
    assert catalogue.search("zzzunknownword") == []


def _study(key, title="A study", **notes):
    return study_from(BibEntry(key, "misc", {"title": title, "year": "2024"}, 1), notes)


def test_field_weights_rank_a_title_or_method_match_above_a_claim_match():
    filler = {"title": "alpha beta", "ssl_method": "gamma delta", "claim": "epsilon zeta", "pretrain_data": "eta theta"}
    studies = [_study(f"in_{field}", **{**filler, field: "rotation " + filler[field].split()[1]})
               for field in filler]  # the same lengths everywhere: only where the word is differs
    index = SearchIndex(studies, load_taxonomy(), Synonyms({}, {}))
    scores = dict(zip((s.key for s in studies), index.scores("rotation")))
    assert scores["in_title"] == pytest.approx(scores["in_ssl_method"])
    assert scores["in_title"] > scores["in_claim"] > 0
    assert scores["in_claim"] == pytest.approx(scores["in_pretrain_data"])


def test_a_query_concept_counts_once_however_it_is_written(tmp_path):
    path = tmp_path / "synonyms.yaml"
    path.write_text("groups:\n  mim: {terms: [MAE, masked autoencoder], narrower: [SimMIM]}\n", encoding="utf-8")
    synonyms = read_synonyms(path)
    studies = [_study("mae", title="MAE for CT"), _study("long", title="Masked autoencoders for CT"),
               _study("simmim", title="SimMIM for CT"), _study("other", title="Contrastive CT")]
    index = SearchIndex(studies, load_taxonomy(), synonyms)
    for query in ("mae", "masked autoencoder", "MASKED AUTOENCODERS"):
        assert list(index.scores(query) > 0) == [True, True, True, False], query
    assert list(index.scores("simmim") > 0) == [False, False, True, False]  # narrower names stay literal


def test_empty_query_lists_everything_newest_first(catalogue):
    results = catalogue.search("")
    assert len(results) == len(catalogue) >= 250
    years = [s.year for s in results]
    assert years == sorted(years, reverse=True)


def test_filters_combine_and_counts_describe_the_result(catalogue):
    filters = Filters(modality={"x-ray"}, strategy={"contrastive", "non-contrastive"}, year_from=2021)
    results = catalogue.search("", filters)
    assert results and all(s.modality == "x-ray" and s.ssl_strategy in {"contrastive", "non-contrastive"}
                           and s.year >= 2021 for s in results)
    counts = facet_counts(results)
    assert counts["modality"] == {"x-ray": len(results)}
    assert sum(counts["strategy"].values()) == len(results)
    assert "sowrirajan2021moco" in {s.key for s in results}


def test_method_facet_uses_recognised_families(catalogue):
    moco = catalogue.search("", Filters(method={"MoCo"}))
    assert "sowrirajan2021moco" in {s.key for s in moco}
    assert all("moco" in s.ssl_method.lower() or "momentum contrast" in s.ssl_method.lower() for s in moco)


def _reference_counts(studies, query_keys, filters):
    """Facet counts the slow, obvious way: for each facet, count over the studies that match the
    query and every filter of the other facets."""
    counts = {}
    for facet, (attribute, several) in FACETS.items():
        others = replace(filters, **({facet: frozenset()} if facet in VALUE_FACETS
                                     else {"year_from": None, "year_to": None}))
        kept = [s for s in studies if s.key in query_keys and others.matches(s)]
        counts[facet] = Counter(value for s in kept
                                for value in (getattr(s, attribute) if several else [getattr(s, attribute)]))
    return counts


def test_facet_counts_follow_the_other_filters(catalogue):
    rng = random.Random(0)
    values = facet_counts(catalogue.studies)
    for query in ("", "contrastive", "masked autoencoder", "chest"):
        query_keys = _keys(catalogue.search(query))
        for _ in range(15):
            chosen = {facet: set(rng.sample(sorted(values[facet]), k=rng.randint(0, 2))) for facet in
                      ("modality", "strategy", "method", "scope")}
            filters = Filters(**chosen, year_from=rng.choice([None, 2020, 2023]))
            browse = catalogue.browse(query, filters)
            assert _keys(browse.studies) == {s.key for s in catalogue.studies
                                             if s.key in query_keys and filters.matches(s)}
            assert browse.counts == _reference_counts(catalogue.studies, query_keys, filters)


def test_choosing_a_value_gives_the_count_it_showed(catalogue):
    filters = Filters(strategy={"generative"})
    counts = catalogue.browse("", filters).counts
    for modality, count in counts["modality"].items():
        assert len(catalogue.search("", replace(filters, modality={modality}))) == count


def test_facet_index_on_a_hand_made_catalogue():
    studies = [replace(_study("a", modality="ct", task="segmentation"), year=2020),
               replace(_study("b", modality="ct", task="classification"), year=None),
               _study("c", modality="mri", task="multiple")]
    index = FacetIndex(studies)
    assert list(index.mask(Filters(modality={"ct"}))) == [True, True, False]
    assert list(index.mask(Filters(year_from=2021))) == [False, False, True]  # no year: dropped by a bound
    counts = index.counts(Filters(modality={"ct"}))
    assert counts["modality"] == {"ct": 2, "mri": 1} and counts["task"] == {"segmentation": 1, "classification": 1}
    assert counts["scope"] == {"segmentation only": 1, "classification": 1}


def test_scope_is_derived_from_the_task():
    assert [_study(str(i), task=task).scope for i, task in enumerate(
        ["classification", "multiple", "segmentation", "detection", "retrieval", ""])] == [
        "classification", "classification and other tasks", "segmentation only", "detection only",
        "retrieval only", "task not stated"]


def test_the_shipped_catalogue_covers_classification_in_every_modality_of_the_reviews(catalogue):
    in_scope = [s for s in catalogue.studies if s.scope in CLASSIFICATION_SCOPES]
    assert len(in_scope) >= 250
    per_modality = Counter(s.modality for s in in_scope)
    assert all(per_modality[modality] >= 10 for modality in REVIEW_MODALITIES), per_modality
    assert all(s.source.startswith("https://") for s in catalogue.studies)


def test_filters_reject_bad_arguments():
    with pytest.raises(ValueError, match="year range is empty"):
        Filters(year_from=2024, year_to=2020)
    with pytest.raises(ValueError, match="set of values"):
        Filters(modality="ct")


def test_an_empty_catalogue_searches_and_counts():
    empty = Catalogue(())
    assert empty.search("anything") == [] and empty.browse("").studies == []
