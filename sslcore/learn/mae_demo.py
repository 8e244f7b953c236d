"""The Learn page's masked autoencoder: a small one that ships its weights, how it is trained (through
the project's one optimisation step) and its reconstructions of hidden tiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from sslcore.augment import AugmentConfig, normalize, to_float
from sslcore.learn.views import patch_mask, show_hidden
from sslcore.methods.mae import MAE

@dataclass(frozen=True)
class MAEArchitecture:
    """A masked autoencoder small enough to ship its weights and train on a CPU in minutes.

    The encoder is a Vision Transformer narrower and shallower than ``vit_tiny``. It predicts raw
    pixels, not the per-patch normalised pixels of ``sslcore.methods.mae``: the paper reports both
    targets (He et al., 2022, arXiv:2111.06377, Table 1c), and with raw pixels the picture of a
    reconstruction owes nothing to the hidden patches' true brightness and contrast.

    Attributes:
        image_size: side of the square images, a multiple of the patch size.
        channels: image channels.
        embed_dim: encoder token size (a multiple of ``num_heads`` and of 4).
        depth: encoder transformer layers.
        num_heads: encoder attention heads.
        decoder_dim: decoder token size (a multiple of 4).
        decoder_depth: decoder transformer layers.
    """

    image_size: int = 64
    channels: int = 1
    embed_dim: int = 96
    depth: int = 3
    num_heads: int = 3
    decoder_dim: int = 64
    decoder_depth: int = 1

    def build(self, mask_ratio: float = 0.75) -> MAE:
        """A freshly initialised masked autoencoder hiding ``mask_ratio`` of the patches."""
        from sslcore.methods.losses import MaskedPatchMSELoss
        from sslcore.models.backbones import ViTBackbone
        from sslcore.models.vit import vit_patch_size

        backbone = ViTBackbone(self.channels, self.image_size, vit_patch_size(self.image_size),
                               embed_dim=self.embed_dim, depth=self.depth, num_heads=self.num_heads)
        method = MAE(backbone, mask_ratio=mask_ratio, decoder_dim=self.decoder_dim, decoder_depth=self.decoder_depth)
        method.criterion = MaskedPatchMSELoss(normalize_targets=False)
        return method


@dataclass(frozen=True)
class MAERecipe:
    """How the teaching masked autoencoder is trained (AdamW, linear warm-up then cosine decay).

    Attributes:
        architecture: the network.
        mask_ratio: fraction of the patches hidden during training.
        epochs, batch_size, lr, weight_decay, warmup_epochs: the optimisation.
        augment: augmentation preset applied before masking.
        seed: seeds the initial weights, the batches, the augmentations and the masks.
    """

    architecture: MAEArchitecture = field(default_factory=MAEArchitecture)
    mask_ratio: float = 0.75
    epochs: int = 25
    batch_size: int = 128
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    augment: str = "light"
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def train_mae(recipe: MAERecipe, images: torch.Tensor,
              on_epoch: Callable[[int, float], None] | None = None) -> tuple[MAE, list[dict[str, Any]]]:
    """Train the teaching masked autoencoder on the CPU, through the project's one optimisation step.

    ``sslcore.training.pretrain`` trains the registry's MAE (``vit_tiny``, normalised-pixel targets);
    this one differs in both (see :class:`MAEArchitecture`), so it is built here and handed to the
    same :class:`sslcore.training.Trainer` with the warm-up + cosine schedule.

    Args:
        recipe: what to train and how.
        images: uint8 (N, C, H, W) training images.
        on_epoch: called with (epoch, mean loss) after each epoch.

    Returns:
        The trained model (eval mode) and one history row per step (step, epoch, loss, lr).
    """
    from sslcore.methods import Batch
    from sslcore.training import Trainer, lr_at

    if len(images) < recipe.batch_size:
        raise ValueError(f"{len(images)} training images are fewer than one batch of {recipe.batch_size}")
    torch.manual_seed(recipe.seed)
    trainer = Trainer(recipe.architecture.build(recipe.mask_ratio).train(), torch.device("cpu"), lr=recipe.lr,
                      weight_decay=recipe.weight_decay)
    generator = torch.Generator().manual_seed(recipe.seed)
    augment_fn = trainer.views(AugmentConfig.preset(recipe.augment), generator)
    steps_per_epoch = len(images) // recipe.batch_size
    total_steps = steps_per_epoch * recipe.epochs
    warmup_steps = int(recipe.warmup_epochs * steps_per_epoch)
    history: list[dict[str, Any]] = []
    for epoch in range(1, recipe.epochs + 1):
        order = torch.randperm(len(images), generator=generator)
        for batch_index in range(steps_per_epoch):
            step = len(history)
            lr = lr_at(step, total_steps, warmup_steps, recipe.lr)
            index = order[batch_index * recipe.batch_size:(batch_index + 1) * recipe.batch_size]
            loss = trainer.step(Batch(images[index]), augment_fn, lr=lr, progress=(step + 1) / total_steps)
            history.append({"step": step + 1, "epoch": epoch, "loss": loss.item(), "lr": lr})
        if on_epoch is not None:
            on_epoch(epoch, sum(row["loss"] for row in history[-steps_per_epoch:]) / steps_per_epoch)
    return trainer.method.eval(), history


@dataclass(frozen=True)
class Reconstruction:
    """Masked images and the masked autoencoder's reconstruction of them.

    Attributes:
        original: float (B, C, H, W) in [0, 1].
        masked: float (B, 3, H, W) in [0, 1], hidden patches coloured (:data:`HIDDEN_COLOUR`).
        reconstruction: float (B, C, H, W) in [0, 1], visible patches copied, hidden ones predicted.
        hidden: bool (B, 1, H, W), True for hidden pixels.
        error: float (B,), mean squared error of the prediction on the hidden pixels (images in [0, 1]).
        baseline_error: float (B,), the same for a guess that fills the hidden pixels with the
            mean of the visible ones.
    """

    original: torch.Tensor
    masked: torch.Tensor
    reconstruction: torch.Tensor
    hidden: torch.Tensor
    error: torch.Tensor
    baseline_error: torch.Tensor


def reconstruct(mae: MAE, images: torch.Tensor, *, seed: int = 0) -> Reconstruction:
    """Hide ``mae.mask_ratio`` of each image's patches at random and let ``mae`` redraw them.

    Only for a raw-pixel masked autoencoder (:class:`MAEArchitecture`): its predictions are
    pixels, so the hidden patches are drawn from the visible ones alone.

    Args:
        mae: a trained masked autoencoder with raw-pixel targets.
        images: uint8 (B, C, H, W) at the model's image size.
        seed: seeds the masks.
    """
    if mae.criterion.normalize_targets:
        raise ValueError("reconstruct needs a masked autoencoder trained on raw pixels (MAEArchitecture); "
                         "use MAE.reconstruct for one trained on normalised pixels")
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != mae.backbone.image_size:
        raise ValueError(f"images must be uint8 (B, C, {mae.backbone.image_size}, {mae.backbone.image_size}), "
                         f"got {images.dtype} {tuple(images.shape)}")
    generator = torch.Generator().manual_seed(seed)
    original = to_float(images)  # (B, C, H, W)
    x = normalize(original)
    was_training = mae.training
    mae.eval()
    try:
        with torch.no_grad():
            keep_index, hidden_patches = mae.random_masking(len(x), x.device, generator)  # (B, K), (B, N)
            predictions = mae.predict_patches(x, keep_index)  # (B, N, P), normalised pixels
    finally:
        mae.train(was_training)
    patches = mae.backbone.patchify(x)  # (B, N, P)
    keep = 1 - hidden_patches.unsqueeze(-1)  # (B, N, 1)
    reconstruction = unit_range(mae.backbone.unpatchify(patches * keep + predictions * (1 - keep)))
    hidden = patch_mask(mae, hidden_patches)  # (B, 1, H, W)
    visible = (~hidden).float()
    visible_mean = (original * visible).sum(dim=(1, 2, 3)) / (visible.sum(dim=(1, 2, 3)) * original.shape[1])  # (B,)

    def hidden_mse(guess: torch.Tensor) -> torch.Tensor:
        squared = (guess - original).pow(2) * hidden  # (B, C, H, W)
        return squared.sum(dim=(1, 2, 3)) / (hidden.sum(dim=(1, 2, 3)) * original.shape[1])

    return Reconstruction(original=original, masked=show_hidden(original, hidden), reconstruction=reconstruction,
                          hidden=hidden, error=hidden_mse(reconstruction),
                          baseline_error=hidden_mse(visible_mean.view(-1, 1, 1, 1).expand_as(original)))


def unit_range(x: torch.Tensor) -> torch.Tensor:
    """Model input back to images in [0, 1]: the inverse of ``sslcore.augment.normalize``, clamped."""
    zero, one = normalize(torch.zeros(())), normalize(torch.ones(()))
    return ((x - zero) / (one - zero)).clamp(0, 1)
