"""The synonyms file: how names are read in text and in queries, and what makes a file unusable."""

import pytest

from sslcore.catalogue.synonyms import load_synonyms, read_synonyms
from sslcore.catalogue.text import tokenize


def _read(tmp_path, text):
    path = tmp_path / "synonyms.yaml"
    path.write_text(text, encoding="utf-8")
    return read_synonyms(path)


def test_names_in_text_become_concepts_once_per_occurrence(tmp_path):
    synonyms = _read(tmp_path, "groups:\n"
                               "  x-ray: {terms: [x-ray, radiograph], narrower: [chest radiograph]}\n"
                               "  chest x-ray: {terms: [CXR, chest radiograph]}\n")
    assert synonyms.concepts_in(tokenize("Chest radiographs and a radiograph")) == [
        "~x ray", "~chest x ray", "~x ray"]


def test_a_query_reads_the_longest_name_first_and_keeps_other_words(tmp_path):
    synonyms = _read(tmp_path, "groups:\n  x-ray: {terms: [x-ray]}\n  chest x-ray: {terms: [chest x-ray]}\n"
                               "  mim: {terms: [masked autoencoder], narrower: [SimMIM]}\n")
    assert synonyms.read_query(tokenize("chest X-rays masked autoencoders simmim lung")) == [
        "~chest x ray", "~mim", "simmim", "lung"]


@pytest.mark.parametrize("text, message", [
    ("groups: [a, b]", "expected a 'groups' mapping"),
    ("groups:\n  a: {terms: []}\n", "group 'a' needs a list of 'terms'"),
    ("groups:\n  a: {terms: [MAE], broader: [x]}\n", "group 'a' needs a list of 'terms'"),
    ("groups:\n  a: {terms: ['--']}\n", "a term without a word"),
    ("groups:\n  a: {terms: [MAE]}\n  b: {terms: [mae]}\n", "'mae' is a term of two groups, 'a' and 'b'"),
    ("groups: {a: [\n", "not valid YAML"),
])
def test_unusable_files_are_refused_with_a_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        _read(tmp_path, text)


def test_the_shipped_synonyms_know_the_field():
    synonyms = load_synonyms()
    for names in (["MAE", "masked autoencoder", "masked image modelling", "MIM"], ["MoCo", "momentum contrast"],
                  ["CXR", "chest X-ray", "chest radiograph"], ["CT", "computed tomography"],
                  ["WSI", "whole-slide image", "histopathology"], ["OCT", "optical coherence tomography"]):
        concepts = {tuple(synonyms.read_query(tokenize(name))) for name in names}
        assert len(concepts) == 1 and len(next(iter(concepts))) == 1, names
