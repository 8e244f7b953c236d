"""Masked autoencoder: hide most image patches and reconstruct them from the visible ones.

He, Chen, Xie, Li, Dollár & Girshick (2022), "Masked Autoencoders Are Scalable Vision Learners",
CVPR, arXiv:2111.06377.
"""

from __future__ import annotations

import torch
from torch import nn

from sslcore.methods.base import AugmentFn, Batch, Citation, MethodInfo, SSLMethod
from sslcore.methods.losses import MaskedPatchMSELoss
from sslcore.methods.losses.masked_mse import patch_statistics
from sslcore.models.vit import VisionTransformer, sincos_position_embedding, transformer_layers


class MAE(SSLMethod):
    """A ViT encoder that sees only the visible patches and a light transformer decoder that
    predicts the pixels of every patch; the loss scores the hidden ones (normalised pixels).

    Args:
        backbone: a :class:`~sslcore.models.vit.VisionTransformer` (``vit_tiny``).
        mask_ratio: fraction of the patches hidden from the encoder.
        decoder_dim: token size of the decoder.
        decoder_depth: transformer layers of the decoder.
    """

    name = "mae"
    default_augment = "crop"  # the paper's random resized crop and flip; the masking does the rest
    can_collapse = False

    def __init__(self, backbone: nn.Module, *, mask_ratio: float = 0.75, decoder_dim: int = 128,
                 decoder_depth: int = 2) -> None:
        super().__init__(backbone)
        if not isinstance(backbone, VisionTransformer):
            raise ValueError(f"mae needs the vit_tiny backbone, got {getattr(backbone, 'name', type(backbone).__name__)}")
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be between 0 and 1 (exclusive), got {mask_ratio}")
        if decoder_dim % 4 or decoder_dim < 4:
            raise ValueError(f"decoder_dim must be a positive multiple of 4, got {decoder_dim}")
        if decoder_depth < 1:
            raise ValueError(f"decoder_depth must be at least 1, got {decoder_depth}")
        self.mask_ratio = mask_ratio
        self.n_visible = max(1, round(backbone.num_patches * (1 - mask_ratio)))
        patch_pixels = backbone.patch_size ** 2 * backbone.in_channels
        self.decoder_embedding = nn.Linear(backbone.feature_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, decoder_dim) * 0.02)
        self.register_buffer("decoder_position_embedding",
                             sincos_position_embedding(backbone.grid_size, decoder_dim).unsqueeze(0),
                             persistent=False)
        self.decoder = transformer_layers(decoder_dim, decoder_depth, num_heads=4)
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_prediction = nn.Linear(decoder_dim, patch_pixels)
        self.criterion = MaskedPatchMSELoss(normalize_targets=True)

    def random_masking(self, batch_size: int, device: torch.device,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw an independent random mask per image.

        Returns:
            keep_index: long (B, K), the visible patches; mask: float (B, N), 1 for hidden patches.
        """
        noise = torch.rand(batch_size, self.backbone.num_patches, generator=generator).to(device)  # (B, N)
        keep_index = noise.argsort(dim=1)[:, :self.n_visible]  # (B, K)
        mask = torch.ones_like(noise).scatter_(1, keep_index, 0.0)
        return keep_index, mask

    def predict_patches(self, views: torch.Tensor, keep_index: torch.Tensor) -> torch.Tensor:
        """Predicted (normalised) pixels of every patch from the visible ones: (B, N, p * p * C)."""
        visible = self.decoder_embedding(self.backbone.encode(views, keep_index))  # (B, K, Dd)
        b, n, dim = visible.shape[0], self.backbone.num_patches, visible.shape[-1]
        tokens = self.mask_token.to(visible.dtype).expand(b, n, dim)  # (B, N, Dd)
        tokens = tokens.scatter(1, keep_index.unsqueeze(-1).expand(-1, -1, dim), visible)
        tokens = tokens + self.decoder_position_embedding.to(tokens.dtype)
        return self.decoder_prediction(self.decoder_norm(self.decoder(tokens)))

    def training_step(self, batch: Batch, augment_fn: AugmentFn) -> torch.Tensor:
        views = augment_fn(batch.images)  # (B, C, H, W)
        keep_index, mask = self.random_masking(len(views), views.device)
        predictions = self.predict_patches(views, keep_index)  # (B, N, P)
        return self.criterion(predictions, self.backbone.patchify(views), mask)

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mask images at random and reconstruct them, for display.

        The network predicts each patch's pixels up to its brightness and contrast (normalised
        pixels); to show them, predictions are rescaled with the true patch's mean and spread, as in
        the paper's figures.

        Args:
            images: normalised float (B, C, H, W), the model's input space.
            generator: seeds the masks.

        Returns:
            masked_images (hidden patches set to 0), reconstruction (visible patches copied, hidden
            ones predicted), both (B, C, H, W) in the input space; mask float (B, 1, H, W), 1 = hidden.
        """
        was_training = self.training
        self.eval()
        keep_index, mask = self.random_masking(len(images), images.device, generator)
        patches = self.backbone.patchify(images.float())  # (B, N, P)
        predictions = self.predict_patches(images, keep_index).float()
        mean, std = patch_statistics(patches)  # (B, N, 1) each
        hidden = mask.unsqueeze(-1)  # (B, N, 1)
        reconstruction = patches * (1 - hidden) + (predictions * std + mean) * hidden
        pixel_mask = self.backbone.unpatchify(hidden.expand_as(patches))[:, :1]  # (B, 1, H, W)
        self.train(was_training)
        return (self.backbone.unpatchify(patches * (1 - hidden)), self.backbone.unpatchify(reconstruction),
                pixel_mask)


INFO = MethodInfo(
    name="mae",
    title="Masked autoencoder (MAE)",
    strategy="generative",
    citation=Citation("He, Chen, Xie, Li, Dollár & Girshick", 2022, "Masked Autoencoders Are Scalable Vision Learners",
                      "CVPR", "2111.06377"),
    explanation="Three quarters of each image is hidden, tile by tile, and the network learns to redraw the "
                "hidden tiles from the visible ones. To do so it must learn what anatomy usually looks like and "
                "how its parts fit together.",
    method_class=MAE,
    backbones=("vit_tiny",),
    default_backbone="vit_tiny",
)
