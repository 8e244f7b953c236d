"""Search ranking, facet filters and counts on the shipped catalogue."""

import pytest

from sslcore.catalogue import Filters, facet_counts, load_catalogue


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(include_user=False)


def test_moco_chest_ranks_moco_cxr_first(catalogue):
    results = catalogue.search("moco chest")
    assert results[0].key == "sowrirajan2021moco"
    # every word must match: each hit mentions both
    assert all("chest" in " ".join([s.title, s.claim, s.pretrain_data, s.ssl_method]).lower() for s in results)


def test_search_is_case_and_accent_insensitive(catalogue):
    plain = [s.key for s in catalogue.search("muller")]
    assert plain and plain == [s.key for s in catalogue.search("MÜLLER")]
    assert "ross2018exploiting" in plain  # author "Müller, Beat"


def test_prefix_words_match_longer_words_ranked_below_exact(catalogue):
    assert {s.key for s in catalogue.search("rubik")} >= {"zhuang2019self", "tao2020revisiting"}
    assert catalogue.search("zzzunknownword") == []


def test_empty_query_lists_everything_newest_first(catalogue):
    results = catalogue.search("")
    assert len(results) == len(catalogue) == 139
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


def test_filters_reject_bad_arguments():
    with pytest.raises(ValueError, match="year range is empty"):
        Filters(year_from=2024, year_to=2020)
    with pytest.raises(ValueError, match="set of values"):
        Filters(modality="ct")
