"""A tiny Vision Transformer (Dosovitskiy et al., 2021, "An Image is Worth 16x16 Words",
ICLR, arXiv:2010.11929), with the patch-level interface the masked autoencoder needs.

The image is cut into square patches, each patch becomes a token, fixed 2-D sine-cosine
positional embeddings (as in MAE, He et al., 2022) say where it was, and pre-norm transformer
layers mix the tokens. The image features are the mean of the output tokens.
"""

from __future__ import annotations

import torch
from torch import nn


def vit_patch_size(image_size: int) -> int:
    """Patch side for an image size: a 4 x 4 grid of patches up to 32 px (7 px patches at 28 px, 8 px
    at 32 px), 8 px patches up to 64 px, 16 px above.

    Small images get few large patches: on the synthetic radiographs' validation split, a masked
    autoencoder with 4 x 4 patches of 7 px at 28 px gave a linear probe AUC of 0.79 against 0.69 with
    7 x 7 patches of 4 px (10 epochs, crop-and-flip; the masked-autoencoder recipe's measurement).
    """
    if image_size <= 32:
        return max(1, image_size // 4)
    if image_size <= 64:
        return 8
    return 16


def sincos_position_embedding(grid_size: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine positional embeddings of a square grid of patches.

    Args:
        grid_size: patches per side.
        dim: embedding size, a multiple of 4 (half for rows, half for columns).

    Returns:
        float (grid_size * grid_size, dim), row-major over the grid.
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    positions = torch.arange(grid_size, dtype=torch.float64)
    rows, columns = torch.meshgrid(positions, positions, indexing="ij")

    def encode(coordinates: torch.Tensor) -> torch.Tensor:
        angles = coordinates.reshape(-1, 1) * frequencies  # (N, dim / 4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (N, dim / 2)

    return torch.cat([encode(rows), encode(columns)], dim=1).float()  # (N, dim)


def transformer_layers(dim: int, depth: int, num_heads: int, mlp_ratio: float = 4.0) -> nn.Sequential:
    """``depth`` pre-norm transformer layers on (B, N, dim) token sequences."""
    return nn.Sequential(*[
        nn.TransformerEncoderLayer(dim, num_heads, dim_feedforward=int(dim * mlp_ratio), dropout=0.0,
                                   activation="gelu", batch_first=True, norm_first=True)
        for _ in range(depth)
    ])


class VisionTransformer(nn.Module):
    """A Vision Transformer encoder returning mean-pooled token features.

    Args:
        in_channels: image channels.
        image_size: side of the square images, a multiple of ``patch_size``.
        patch_size: side of the square patches.
        embed_dim: token size (192 for ViT-Tiny).
        depth: number of transformer layers.
        num_heads: attention heads per layer.
    """

    def __init__(self, in_channels: int, image_size: int, patch_size: int, embed_dim: int = 192,
                 depth: int = 6, num_heads: int = 3) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be a multiple of num_heads ({num_heads})")
        self.in_channels = in_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size ** 2
        self.feature_dim = embed_dim
        self.patch_embedding = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.register_buffer("position_embedding",
                             sincos_position_embedding(self.grid_size, embed_dim).unsqueeze(0), persistent=False)
        self.layers = transformer_layers(embed_dim, depth, num_heads)
        self.norm = nn.LayerNorm(embed_dim)

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, N, patch_size * patch_size * C), patches in row-major order."""
        b, c, p, g = images.shape[0], self.in_channels, self.patch_size, self.grid_size
        patches = images.reshape(b, c, g, p, g, p).permute(0, 2, 4, 3, 5, 1)  # (B, g, g, p, p, C)
        return patches.reshape(b, g * g, p * p * c)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`patchify`: (B, N, patch_size * patch_size * C) -> (B, C, H, W)."""
        b, c, p, g = patches.shape[0], self.in_channels, self.patch_size, self.grid_size
        images = patches.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)  # (B, C, g, p, g, p)
        return images.reshape(b, c, g * p, g * p)

    def encode(self, images: torch.Tensor, keep_index: torch.Tensor | None = None) -> torch.Tensor:
        """Encode the patches of ``images``, or only those in ``keep_index`` (MAE's visible patches).

        Args:
            images: normalised float (B, C, H, W).
            keep_index: long (B, K), indices of the patches to encode; all patches when None.

        Returns:
            Normalised output tokens (B, K, embed_dim) (K = N when ``keep_index`` is None).
        """
        tokens = self.patch_embedding(images).flatten(2).transpose(1, 2)  # (B, N, D)
        tokens = tokens + self.position_embedding.to(tokens.dtype)
        if keep_index is not None:
            tokens = tokens.gather(1, keep_index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))  # (B, K, D)
        return self.norm(self.layers(tokens))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B, N, D) -> (B, D)
        return self.encode(images).mean(dim=1)
