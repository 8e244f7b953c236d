import pytest
import torch
from torch import nn

from sslcore.methods import Batch, build_method
from sslcore.methods.momentum import cosine_momentum, frozen_copy, update_momentum
from sslcore.models import build_backbone
from tests.methods.conftest import simple_augment


@pytest.mark.parametrize("momentum", [0.0, 0.9, 0.99, 1.0])
def test_update_moves_target_towards_online_by_one_minus_momentum(momentum):
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    target = frozen_copy(online)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    online(torch.randn(8, 3))  # changes the BatchNorm running statistics
    before = [p.clone() for p in target.parameters()]
    update_momentum(online, target, momentum)
    for old, new, current in zip(before, target.parameters(), online.parameters()):
        torch.testing.assert_close(new, momentum * old + (1 - momentum) * current)
    torch.testing.assert_close(target[1].running_mean, online[1].running_mean)
    assert not any(p.requires_grad for p in target.parameters())


@pytest.mark.parametrize("progress, expected", [(0.0, 0.99), (0.5, 0.995), (1.0, 1.0)])
def test_cosine_momentum_rises_from_base_to_one(progress, expected):
    assert cosine_momentum(0.99, progress) == pytest.approx(expected)


@pytest.mark.parametrize("name, online_parts, target_name, momentum_at", [
    ("byol", ("backbone", "projection_head"), "target_encoder", lambda p: cosine_momentum(0.9, p)),
    ("moco", ("backbone", "projection_head"), "key_encoder", lambda p: 0.9),
])
def test_on_step_end_applies_the_method_momentum(name, online_parts, target_name, momentum_at, tiny_images):
    hparam = {"byol": "base_momentum", "moco": "momentum"}[name]
    method = build_method(name, build_backbone("small_cnn", 1, 28), n_classes=2, task="binary", **{hparam: 0.9})
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    method.training_step(Batch(tiny_images), simple_augment).backward()
    optimizer.step()
    online = [p.detach().clone() for part in online_parts for p in getattr(method, part).parameters()]
    target = getattr(method, target_name)
    before = [p.clone() for p in target.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(online, before))
    method.on_step_end(0.3)
    m = momentum_at(0.3)
    for old, new, current in zip(before, target.parameters(), online):
        torch.testing.assert_close(new, m * old + (1 - m) * current)
