import pytest
import torch

from sslcore.methods.rotation import rotate


@pytest.mark.parametrize("batch, channels, size", [(1, 1, 4), (7, 3, 9)])
def test_rotate_turns_each_image_by_its_own_quarter_turns(batch, channels, size):
    images = torch.randn(batch, channels, size, size).contiguous(memory_format=torch.channels_last)
    quarter_turns = torch.randint(4, (batch,))
    rotated = rotate(images, quarter_turns)
    for image, turns, result in zip(images, quarter_turns.tolist(), rotated):
        torch.testing.assert_close(result, torch.rot90(image, turns, dims=(1, 2)))
