import torch

from sslcore.methods import Batch, build_method
from sslcore.methods.losses import NegativeCosineSimilarity
from sslcore.models import build_backbone
from tests.methods.conftest import no_augment


def test_gradient_flows_only_through_the_predictor_branch(tiny_images):
    torch.manual_seed(0)
    method = build_method("simsiam", build_backbone("small_cnn", 1, 28), n_classes=2, task="binary",
                          projection_dim=16)
    method.training_step(Batch(tiny_images), no_augment).backward()
    with_stop_gradient = [p.grad.clone() for p in method.projection_head.parameters()]

    def head_gradients(detach: bool):
        method.zero_grad()
        views = no_augment(torch.cat([tiny_images, tiny_images]))
        projections = method.projection_head(method.backbone(views))
        p1, p2 = method.prediction_head(projections).chunk(2)
        z1, z2 = (projections.detach() if detach else projections).chunk(2)
        criterion = NegativeCosineSimilarity()
        ((criterion(p1, z2) + criterion(p2, z1)) / 2).backward()
        return [p.grad for p in method.projection_head.parameters()]

    for grad, expected in zip(with_stop_gradient, head_gradients(detach=True)):
        torch.testing.assert_close(grad, expected)
    assert any(not torch.allclose(a, b) for a, b in zip(with_stop_gradient, head_gradients(detach=False)))
