import pytest

from sslcore.catalogue.published import reference_dataset_id


@pytest.mark.parametrize("spec, expected", [("pneumoniamnist", "pneumoniamnist"), ("PneumoniaMNIST", "pneumoniamnist"),
                                            ("/data/pneumoniamnist_64.npz", "pneumoniamnist"),
                                            ("synthetic", "synthetic"), ("/data/my_scans.npz", "/data/my_scans.npz")])
def test_reference_dataset_id_finds_the_medmnist_flag(spec, expected):
    assert reference_dataset_id(spec) == expected
