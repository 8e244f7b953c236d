import pytest
import torch

from sslcore.methods.losses import MaskedPatchMSELoss


def reference_masked_mse(predictions, patches, mask, normalize) -> float:
    total, count = 0.0, 0
    for b in range(patches.shape[0]):
        for n in range(patches.shape[1]):
            if not mask[b][n]:
                continue
            target = patches[b][n].tolist()
            if normalize:
                mean = sum(target) / len(target)
                variance = sum((v - mean) ** 2 for v in target) / (len(target) - 1)
                target = [(v - mean) / (variance + 1e-6) ** 0.5 for v in target]
            total += sum((p - t) ** 2 for p, t in zip(predictions[b][n].tolist(), target)) / len(target)
            count += 1
    return total / count


@pytest.mark.parametrize("batch, n_patches, patch_pixels", [(1, 4, 16), (3, 9, 48)])
@pytest.mark.parametrize("normalize", [True, False])
def test_matches_the_reference(batch, n_patches, patch_pixels, normalize):
    predictions, patches = torch.randn(batch, n_patches, patch_pixels), torch.randn(batch, n_patches, patch_pixels)
    mask = (torch.rand(batch, n_patches) < 0.6).float()
    mask[:, 0] = 1
    loss = MaskedPatchMSELoss(normalize_targets=normalize)(predictions, patches, mask)
    assert loss.item() == pytest.approx(reference_masked_mse(predictions, patches, mask, normalize), rel=1e-5)


def test_visible_patches_do_not_count():
    patches = torch.randn(2, 4, 8)
    predictions = patches.clone()
    predictions[:, 0] += 100.0  # a wrong prediction on a visible patch
    mask = torch.tensor([[0.0, 1, 1, 1]] * 2)
    assert MaskedPatchMSELoss(normalize_targets=False)(predictions, patches, mask).item() == 0.0
