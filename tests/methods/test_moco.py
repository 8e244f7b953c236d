import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sslcore.methods import Batch, build_method
from sslcore.methods.losses import InfoNCELoss
from sslcore.methods.moco import moco_queue_size
from sslcore.models import build_backbone
from tests.methods.conftest import no_augment


def test_each_step_enqueues_its_normalised_keys_wrapping_around(tiny_images):
    method = build_method("moco", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary", queue_size=12)
    initial = method.queue.clone()
    method.training_step(Batch(tiny_images), no_augment)
    with torch.no_grad():
        keys = F.normalize(method.key_encoder(no_augment(tiny_images)), dim=1)
    torch.testing.assert_close(method.queue[:8], keys)
    torch.testing.assert_close(method.queue[8:], initial[8:])
    assert method.queue_pointer.item() == 8
    method.training_step(Batch(tiny_images), no_augment)  # 8 more keys: slots 8..11 then 0..3
    torch.testing.assert_close(method.queue[8:], keys[:4])
    torch.testing.assert_close(method.queue[:4], keys[4:])
    torch.testing.assert_close(method.queue[4:8], keys[4:])
    assert method.queue_pointer.item() == 4
    torch.testing.assert_close(method.queue.norm(dim=1), torch.ones(12))


def test_queries_and_shuffled_keys_are_normalised_per_group():
    # 32 images, 4 groups of 8: queries over contiguous groups, keys over groups of a random
    # shuffle (the permutation is the first draw of the step, reproduced from the same seed).
    torch.manual_seed(0)
    method = build_method("moco", build_backbone("small_cnn", 1, 16), n_classes=2, task="binary", queue_size=64,
                          bn_groups=4)
    images = torch.randint(0, 256, (32, 1, 16, 16), dtype=torch.uint8)
    views, initial_queue = no_augment(images), method.queue.clone()
    torch.manual_seed(5)
    loss = method.training_step(Batch(images), no_augment)
    torch.manual_seed(5)
    shuffle = torch.randperm(32)
    online = nn.Sequential(method.backbone, method.projection_head)
    with torch.no_grad():
        keys, queries = torch.empty(32, 128), torch.empty(32, 128)
        for group in shuffle.tensor_split(4):
            keys[group] = F.normalize(method.key_encoder(views[group]), dim=1)
        for group in torch.arange(32).tensor_split(4):
            queries[group] = online(views[group])
        whole_batch_keys = F.normalize(method.key_encoder(views), dim=1)
    torch.testing.assert_close(method.queue[:32], keys)
    torch.testing.assert_close(loss.detach(), InfoNCELoss(0.2)(queries, keys, initial_queue))
    assert not torch.allclose(keys, whole_batch_keys, atol=1e-3)  # the grouping is in effect


def simulated_stale_fraction(n_train: int, batch_size: int, queue_size: int, epochs: int = 4) -> float:
    """Fraction of queries (after the first epoch) whose own image's key is in the queue."""
    generator = torch.Generator().manual_seed(0)
    queue: list[int] = []
    stale, queries = 0, 0
    for epoch in range(epochs):
        order = torch.randperm(n_train, generator=generator).tolist()
        for start in range(0, n_train - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            if epoch:
                queued = set(queue)
                stale += sum(index in queued for index in batch)
                queries += len(batch)
            queue = (queue + batch)[-queue_size:]
    return stale / queries


def test_queue_sized_to_the_data_rarely_holds_a_querys_own_stale_key():
    assert moco_queue_size(3498, 256) == 1536  # whole batches within half the training set
    assert moco_queue_size(3882, 512) == 1536
    assert moco_queue_size(300, 256) == 150  # under two batches: half the set
    assert moco_queue_size(1, 1) == 1
    n_train, batch_size = 1000, 50
    sized = moco_queue_size(n_train, batch_size)
    assert sized == 500
    assert simulated_stale_fraction(n_train, batch_size, sized) < 0.16  # (K / N)^2 / 2 = 12.5 %
    assert simulated_stale_fraction(n_train, batch_size, 4096) == 1.0  # the old default: always


@pytest.mark.parametrize("args", [(0, 256), (100, 0), (100, 10, 0.0), (100, 10, 1.5)])
def test_queue_size_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        moco_queue_size(*args)


def test_rejects_no_groups():
    with pytest.raises(ValueError, match="bn_groups"):
        build_method("moco", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary", bn_groups=0)
