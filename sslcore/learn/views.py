"""What each method makes of an image for its pretext task, and the similarity matrix a contrastive
loss acts on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.augment import AugmentConfig, augment, normalize
from sslcore.methods.mae import MAE
from sslcore.methods.rotation import N_ROTATIONS, rotate

# Methods that make two augmented copies of each image (their ``training_step`` augments
# ``cat([images, images])``).
TWO_VIEW_METHODS = ("simclr", "moco", "byol", "simsiam", "barlow_twins")
VIEW_METHODS = (*TWO_VIEW_METHODS, "micle", "mae", "rotation")
ANGLES = (0, 90, 180, 270)  # the rotation classes, counter-clockwise (``rotate``'s quarter turns)
HIDDEN_COLOUR = (0.15, 0.45, 0.85)  # how hidden patches are drawn: blue stands out on greyscale


@dataclass(frozen=True)
class Views:
    """What one method makes from an image for its pretext task.

    Attributes:
        method: a key of ``sslcore.methods.METHODS``.
        captions: one short caption per view.
        images: float (K, C, H, W) in [0, 1]; 3 channels when hidden patches are coloured.
    """

    method: str
    captions: tuple[str, ...]
    images: torch.Tensor


def show_hidden(images: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Colour the hidden pixels so that a masked image reads at a glance.

    Args:
        images: float (B, C, H, W) in [0, 1], C in {1, 3}.
        hidden: bool (B, 1, H, W), True where the pixel is hidden.

    Returns:
        float (B, 3, H, W) in [0, 1].
    """
    rgb = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images  # (B, 3, H, W)
    colour = torch.tensor(HIDDEN_COLOUR, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return torch.where(hidden, colour, rgb)


def patch_mask(mae: MAE, hidden_patches: torch.Tensor) -> torch.Tensor:
    """MAE's patch mask (B, N) (1 = hidden) as a pixel mask: bool (B, 1, H, W)."""
    backbone = mae.backbone
    pixels_per_patch = backbone.patch_size ** 2 * backbone.in_channels
    return backbone.unpatchify(hidden_patches.unsqueeze(-1).expand(-1, -1, pixels_per_patch))[:, :1] > 0.5


def views_by_method(
    image: torch.Tensor,
    methods: Iterable[str] = VIEW_METHODS,
    *,
    partner: torch.Tensor | None = None,
    mae: MAE | None = None,
    augment_config: AugmentConfig | None = None,
    seed: int = 0,
) -> dict[str, Views]:
    """The views each method makes from one image during pretraining.

    The views come from the same calls the methods make in ``training_step``: two augmentations
    of the image (SimCLR, MoCo, BYOL, SimSiam, Barlow Twins); one of the image and one of another
    image of the same patient (MICLe); one augmentation with most patches hidden by the masked
    autoencoder's own masking (MAE); one augmentation turned by each quarter turn (rotation).

    Args:
        image: uint8 (C, H, W).
        methods: which methods, among :data:`VIEW_METHODS`; the result keeps this order.
        partner: uint8 (C, H, W), another image of the same patient (needed for ``micle``; the
            image itself when the patient has one image, as in training).
        mae: a masked autoencoder for ``mae``, built for this image size; only its masking is used.
        augment_config: the augmentations; pretraining's default (``radiograph`` preset) when None.
        seed: the same seed gives the same views.

    Returns:
        method -> :class:`Views`.
    """
    methods = tuple(methods)
    unknown = [name for name in methods if name not in VIEW_METHODS]
    if unknown:
        raise ValueError(f"no views for {', '.join(unknown)}; choose from {', '.join(VIEW_METHODS)}")
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"image must be uint8 (C, H, W), got {image.dtype} {tuple(image.shape)}")
    if "micle" in methods and (partner is None or partner.shape != image.shape):
        raise ValueError("views for micle need partner: another image of the same patient, shaped like image")
    if "mae" in methods and (mae is None or mae.backbone.image_size != image.shape[-1]):
        raise ValueError(f"views for mae need mae: a masked autoencoder for {image.shape[-1]} px images")
    config = augment_config or AugmentConfig.preset("radiograph")
    generator = torch.Generator().manual_seed(seed)
    batch = image.unsqueeze(0)  # (1, C, H, W)
    views = {}
    for name in methods:
        if name in TWO_VIEW_METHODS:
            pair = augment(torch.cat([batch, batch]), config, generator)  # (2, C, H, W)
            views[name] = Views(name, ("altered copy 1", "altered copy 2"), pair)
        elif name == "micle":
            pair = augment(torch.cat([batch, partner.unsqueeze(0)]), config, generator)  # (2, C, H, W)
            views[name] = Views(name, ("this image, altered", "same patient, other image, altered"), pair)
        elif name == "mae":
            view = augment(batch, config, generator)  # (1, C, H, W)
            _, hidden_patches = mae.random_masking(1, view.device, generator)  # (1, N)
            masked = show_hidden(view, patch_mask(mae, hidden_patches))  # (1, 3, H, W)
            views[name] = Views(name, ("altered copy", f"{mae.mask_ratio:.0%} of the tiles hidden"),
                                torch.cat([view.expand(-1, 3, -1, -1), masked]))
        else:
            view = augment(batch, config, generator)  # (1, C, H, W)
            turned = rotate(view.expand(N_ROTATIONS, -1, -1, -1), torch.arange(N_ROTATIONS))  # (4, C, H, W)
            views[name] = Views(name, tuple(f"turned {angle}°" for angle in ANGLES), turned)
    return views


# --- Contrastive similarity -----------------------------------------------------------------------

@dataclass(frozen=True)
class Similarity:
    """Cosine similarities of two augmented views of each of a few images.

    Views are ordered by image: rows 2i and 2i + 1 are the two views of image i, so the positive
    pairs sit in 2 x 2 blocks along the diagonal.

    Attributes:
        views: float (2N, C, H, W) in [0, 1], the augmented views.
        matrix: float (2N, 2N), cosine similarity of the views' embeddings, in [-1, 1].
        positives: long (2N,), the row of each view's positive partner (the other view of its image).
    """

    views: torch.Tensor
    matrix: torch.Tensor
    positives: torch.Tensor

    @property
    def nearest(self) -> torch.Tensor:
        """long (2N,): for each view, the most similar other view."""
        return self.matrix.masked_fill(torch.eye(len(self.matrix), dtype=torch.bool), -torch.inf).argmax(dim=1)

    @property
    def positive_similarity(self) -> float:
        """Mean similarity of the positive pairs (pulled together by a contrastive loss)."""
        return float(self.matrix[torch.arange(len(self.matrix)), self.positives].mean())

    @property
    def negative_similarity(self) -> float:
        """Mean similarity of views of different images (pushed apart by a contrastive loss)."""
        n = len(self.matrix)
        negatives = ~torch.eye(n, dtype=torch.bool)
        negatives[torch.arange(n), self.positives] = False
        return float(self.matrix[negatives].mean())


def similarity_matrix(
    encoder: nn.Module,
    images: torch.Tensor,
    *,
    seed: int = 0,
    augment_config: AugmentConfig | None = None,
) -> Similarity:
    """Two augmented views of each image through ``encoder``, compared by cosine similarity.

    This is the matrix SimCLR's NT-Xent loss works on (Chen et al., 2020, "A Simple Framework for
    Contrastive Learning of Visual Representations", ICML, arXiv:2002.05709): training raises
    each view's similarity to its positive partner and lowers it to every other view.

    Args:
        encoder: maps normalised float images (B, C, H, W) to embeddings (B, D); evaluated in eval
            mode, its training mode restored afterwards.
        images: uint8 (N, C, H, W), N >= 2.
        seed: seeds the augmentations.
        augment_config: pretraining's default (``radiograph`` preset) when None.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or len(images) < 2:
        raise ValueError(f"images must be uint8 (N, C, H, W) with N >= 2, got {images.dtype} {tuple(images.shape)}")
    generator = torch.Generator().manual_seed(seed)
    views = augment(images.repeat_interleave(2, dim=0), augment_config or AugmentConfig.preset("radiograph"),
                    generator)  # (2N, C, H, W): image 0 twice, then image 1 twice ...
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            embeddings = F.normalize(encoder(normalize(views)).float(), dim=1)  # (2N, D)
    finally:
        encoder.train(was_training)
    positives = torch.arange(len(views)) ^ 1  # 0 <-> 1, 2 <-> 3 ...
    return Similarity(views=views, matrix=embeddings @ embeddings.T, positives=positives)


def recognition_sentence(found: int, n_views: int, positive: float, negative: float) -> str:
    """What the similarity matrix shows, in words that follow its numbers.

    Args:
        found: views whose most similar other view is their own partner.
        n_views: views in the batch (two per image).
        positive, negative: mean similarity of partners and of views of different images.
    """
    if not 0 <= found <= n_views or n_views < 4:
        raise ValueError(f"need 0 <= found <= n_views and n_views >= 4, got {found} of {n_views}")
    chance = n_views / (n_views - 1)  # views expected to find their partner by luck (1 in n - 1 each)
    if found >= 0.8 * n_views and positive > negative:
        verdict = "the encoder recognises an image under these alterations, which is what pretraining taught it."
    elif found > 2 * chance and positive > negative:
        verdict = (f"the encoder recognises some images under these alterations but not all: {n_views - found} "
                   f"views are closer to another image's view than to their own partner.")
    else:
        verdict = ("at this strength the encoder does not recognise the images: partners are found no more often "
                   "than by luck, so the alterations hide what it learned to match.")
    return verdict + " Change the alteration strength and watch the partners drift together or apart."


def contrastive_encoder(method: nn.Module) -> nn.Module:
    """A SimCLR-style method's embedding network: backbone then projection head (what its loss compares)."""
    if not hasattr(method, "projection_head"):
        raise ValueError(f"{type(method).__name__} has no projection head; pass a SimCLR or MICLe method")
    return nn.Sequential(method.backbone, method.projection_head).eval()


def similarity_figure(similarity: Similarity, labels: list[str], hover: list[str] | None = None):
    """A plotly heatmap of a :class:`Similarity` with the positive pairs outlined.

    Args:
        similarity: from :func:`similarity_matrix`.
        labels: one short axis label per view (2N).
        hover: one longer description per view for the hover text (defaults to ``labels``).

    Returns:
        A ``plotly.graph_objects.Figure``; a view against itself (always 1) is left blank.
    """
    import html

    import plotly.graph_objects as go

    n = len(similarity.matrix)
    if len(labels) != n or (hover is not None and len(hover) != n):
        raise ValueError(f"need one label (and hover text) per view: {n}, got {len(labels)}")
    hover = [html.escape(text) for text in (hover or labels)]  # plotly renders hover text as HTML
    matrix = similarity.matrix.masked_fill(torch.eye(n, dtype=torch.bool), float("nan")).tolist()
    figure = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True,
        texttemplate="%{z:.2f}", customdata=[[[hover[i], hover[j]] for j in range(n)] for i in range(n)],
        colorbar=dict(title="similarity"),
        hovertemplate="%{customdata[0]}<br>vs %{customdata[1]}<br>similarity %{z:.2f}<extra></extra>"))
    figure.add_trace(go.Scatter(
        x=[labels[j] for j in similarity.positives.tolist()], y=labels, mode="markers",
        name="same image (pulled together)", hoverinfo="skip",
        marker=dict(symbol="square-open", size=30, color="black", line=dict(width=3))))
    figure.update_layout(yaxis=dict(autorange="reversed", scaleanchor="x"), legend=dict(orientation="h", y=-0.12),
                         margin=dict(t=10, b=10, l=10, r=10), height=520)
    return figure
