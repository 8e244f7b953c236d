import numpy as np
import pytest
import torch

from sslcore.data import patient_partners
from sslcore.data.base import make_split, split_by_patient


def _reference_partner_sets(ids):
    """For each image, the set of allowed partners: other images of its patient, or itself."""
    allowed = []
    for i, pid in enumerate(ids):
        others = {j for j, q in enumerate(ids) if q == pid and j != i}
        allowed.append(others or {i})
    return allowed


@pytest.mark.parametrize("n,n_patients", [(1, 1), (10, 10), (50, 7), (200, 60)])
def test_patient_partners_match_reference(n, n_patients):
    generator = torch.Generator().manual_seed(n)
    ids = torch.randint(0, n_patients, (n,), generator=generator)
    partners = patient_partners(ids, torch.Generator().manual_seed(0))
    assert partners.shape == (n,) and partners.dtype == torch.long
    for i, allowed in enumerate(_reference_partner_sets(ids.tolist())):
        assert partners[i].item() in allowed


def test_patient_partners_cover_all_other_views():
    ids = torch.tensor([3, 3, 3, 3])
    seen = set()
    for seed in range(40):
        seen |= set(patient_partners(ids, torch.Generator().manual_seed(seed))[:1].tolist())
    assert seen == {1, 2, 3}


def test_patient_partners_seeded():
    ids = torch.arange(100) // 3
    a = patient_partners(ids, torch.Generator().manual_seed(1))
    assert torch.equal(a, patient_partners(ids, torch.Generator().manual_seed(1)))


def test_split_by_patient_never_leaks():
    ids = np.repeat(np.arange(40), 3)
    index = split_by_patient(ids, (0.7, 0.15, 0.15), seed=0)
    groups = [set(ids[i]) for i in index.values()]
    assert sum(len(i) for i in index.values()) == len(ids)
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])


def test_make_split_layouts_and_errors():
    split = make_split(np.zeros((4, 5, 5, 3), np.uint8), np.zeros((4, 1), np.uint8), None, "x.npz")
    assert split.images.shape == (4, 3, 5, 5) and split.labels.dtype == torch.int64
    multi = make_split(np.zeros((4, 5, 5), np.uint8), np.ones((4, 14), np.uint8), None, "x.npz")
    assert multi.labels.shape == (4, 14) and multi.labels.dtype == torch.float32
    with pytest.raises(ValueError, match="x.npz: 4 images but 3 labels"):
        make_split(np.zeros((4, 5, 5), np.uint8), np.zeros(3), None, "x.npz")
