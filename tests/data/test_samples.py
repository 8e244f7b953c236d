import numpy as np
import torch

from sslcore.data.samples import displayable, samples_per_class


def test_samples_per_class_draws_only_members_of_each_class():
    labels = torch.tensor([0, 1, 1, 0, 1, 2])
    chosen = samples_per_class(labels, per_class=2, seed=1)
    assert set(chosen) == {0, 1, 2}
    for class_index, indices in chosen.items():
        assert len(indices) == min(2, int((labels == class_index).sum()))
        assert all(labels[i] == class_index for i in indices)


def test_displayable_converts_grey_and_colour_images():
    grey = displayable(torch.full((2, 1, 4, 4), 0.5))
    assert grey.shape == (2, 4, 4) and grey.dtype == np.uint8 and grey[0, 0, 0] == 128
    assert displayable(torch.zeros(1, 3, 4, 4, dtype=torch.uint8)).shape == (1, 4, 4, 3)
