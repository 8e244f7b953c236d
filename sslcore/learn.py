"""What the Learn page computes, so that every picture it draws comes from tested code.

The page teaches self-supervised learning (SSL) with the project's own data and models: the views
each method makes from an image, the similarity matrix a contrastive loss acts on, the
same-patient pairs of MICLe, a masked autoencoder's reconstructions, rotation predictions and a
label-efficiency curve. Training those models takes minutes, so ``python -m sslcore learn
build-assets`` (:func:`build_assets`) trains them once and ships their float16 weights and the
curve's points in ``sslcore/assets/learn/``; the page only loads them (:func:`load_assets`).

Nothing here imports streamlit.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from sslcore.augment import AugmentConfig, augment, normalize, to_float
from sslcore.config import PretrainConfig
from sslcore.experiment import ExperimentConfig
from sslcore.methods.mae import MAE
from sslcore.methods.rotation import N_ROTATIONS, RotationPrediction, rotate

ASSETS_DIR = Path(__file__).resolve().parent / "assets" / "learn"
MANIFEST_FILE = "manifest.json"
CURVE_FILE = "curve_points.json"
SIMCLR_FILE = "simclr_small_cnn.pt"
ROTATION_FILE = "rotation_small_cnn.pt"
MAE_FILE = "mae_small_vit.pt"
BUILD_COMMAND = "python -m sslcore learn build-assets"

# The page's pictures come from a fresh draw of the synthetic set that no shipped model trained on.
TEACHING_SEED = 7
TEACHING_IMAGES = 600
# Methods that make two augmented copies of each image (their ``training_step`` augments
# ``cat([images, images])``).
TWO_VIEW_METHODS = ("simclr", "moco", "byol", "simsiam", "barlow_twins")
VIEW_METHODS = (*TWO_VIEW_METHODS, "micle", "mae", "rotation")
ANGLES = (0, 90, 180, 270)  # the rotation classes, counter-clockwise (``rotate``'s quarter turns)
HIDDEN_COLOUR = (0.15, 0.45, 0.85)  # how hidden patches are drawn: blue stands out on greyscale


def teaching_dataset(image_size: int = 64):
    """The images the page shows: synthetic radiographs drawn with :data:`TEACHING_SEED`.

    Args:
        image_size: 28, 64 or 128 px. The same seed gives the same patients, labels and views at
            every size, so one index names one image across sizes.
    """
    from sslcore.data import load_dataset

    return load_dataset("synthetic", image_size=image_size, seed=TEACHING_SEED, n_images=TEACHING_IMAGES)


def class_members(labels: torch.Tensor, class_index: int) -> torch.Tensor:
    """Indices (long) of the images of one class, in dataset order.

    Args:
        labels: int64 (N,) class indices (binary or multi-class datasets).
        class_index: the class.
    """
    if labels.ndim != 1:
        raise ValueError(f"class_members needs one class per image (labels of shape (N,)), got {tuple(labels.shape)}")
    return torch.nonzero(labels == class_index).flatten()


def same_patient_pairs(patient_ids: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Pairs of different images of one patient: MICLe's positive pairs.

    Azizi et al. (2021), "Big Self-Supervised Models Advance Medical Image Classification", ICCV,
    arXiv:2101.05224.

    Args:
        patient_ids: int64 (N,), the patient of each image.
        n: how many pairs at most; each pair is from a different patient.
        seed: which patients and which of their images.

    Returns:
        long (P, 2) image indices with P = min(n, patients with two or more images).
    """
    from sslcore.data import patient_partners

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    generator = torch.Generator().manual_seed(seed)
    partners = patient_partners(patient_ids, generator).cpu()  # (N,)
    ids = patient_ids.cpu()
    candidates = torch.nonzero(partners != torch.arange(len(ids))).flatten()
    candidates = candidates[torch.randperm(len(candidates), generator=generator)]
    # Keep the first candidate of each patient, so that no patient gives two pairs.
    _, group = torch.unique(ids[candidates], return_inverse=True)
    first = torch.full((int(group.max()) + 1 if len(group) else 0,), len(candidates), dtype=torch.long)
    first = first.scatter_reduce(0, group, torch.arange(len(candidates)), reduce="amin")
    chosen = candidates[first.sort().values][:n]
    return torch.stack([chosen, partners[chosen]], dim=1)


def other_images_of_patient(patient_ids: torch.Tensor, index: int) -> torch.Tensor:
    """Indices (long) of the other images of the patient of image ``index``; empty for a single image."""
    if not 0 <= index < len(patient_ids):
        raise ValueError(f"index must be in [0, {len(patient_ids)}), got {index}")
    same = patient_ids.cpu() == patient_ids[index].cpu()
    same[index] = False
    return torch.nonzero(same).flatten()


# --- Views --------------------------------------------------------------------------------------

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


# --- Masked autoencoder ---------------------------------------------------------------------------

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
    """Train the teaching masked autoencoder on the CPU.

    ``sslcore.train.pretrain`` trains the registry's MAE (``vit_tiny``, normalised-pixel targets);
    this one differs in both (see :class:`MAEArchitecture`), so it runs the same ingredients here:
    the method's ``training_step``, ``augment`` and the warm-up + cosine schedule.

    Args:
        recipe: what to train and how.
        images: uint8 (N, C, H, W) training images.
        on_epoch: called with (epoch, mean loss) after each epoch.

    Returns:
        The trained model (eval mode) and one history row per step (step, epoch, loss, lr).
    """
    from sslcore.methods import Batch
    from sslcore.train import lr_at

    if len(images) < recipe.batch_size:
        raise ValueError(f"{len(images)} training images are fewer than one batch of {recipe.batch_size}")
    torch.manual_seed(recipe.seed)
    method = recipe.architecture.build(recipe.mask_ratio).train()
    optimizer = torch.optim.AdamW(method.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    config = AugmentConfig.preset(recipe.augment)
    generator = torch.Generator().manual_seed(recipe.seed)
    steps_per_epoch = len(images) // recipe.batch_size
    total_steps = steps_per_epoch * recipe.epochs
    warmup_steps = int(recipe.warmup_epochs * steps_per_epoch)
    history: list[dict[str, Any]] = []
    for epoch in range(1, recipe.epochs + 1):
        order = torch.randperm(len(images), generator=generator)
        for batch_index in range(steps_per_epoch):
            step = len(history)
            lr = lr_at(step, total_steps, warmup_steps, recipe.lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = order[batch_index * recipe.batch_size:(batch_index + 1) * recipe.batch_size]
            loss = method.training_step(Batch(images[index]), lambda x: normalize(augment(x, config, generator)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append({"step": step + 1, "epoch": epoch, "loss": loss.item(), "lr": lr})
        if on_epoch is not None:
            on_epoch(epoch, sum(row["loss"] for row in history[-steps_per_epoch:]) / steps_per_epoch)
    return method.eval(), history


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


# --- Rotation prediction ------------------------------------------------------------------------

@dataclass(frozen=True)
class RotationGuesses:
    """A rotation model's guesses for each image turned by each quarter turn.

    Attributes:
        turned: float (B, 4, C, H, W) in [0, 1], each image turned by 0, 90, 180 and 270 degrees.
        probabilities: float (B, 4, 4): for each turned copy, the model's probability of each angle.
    """

    turned: torch.Tensor
    probabilities: torch.Tensor

    @property
    def predicted(self) -> torch.Tensor:
        """long (B, 4): index into :data:`ANGLES` of the most probable angle of each copy."""
        return self.probabilities.argmax(dim=-1)

    @property
    def accuracy(self) -> float:
        """Fraction of the copies whose angle the model names correctly."""
        return float((self.predicted == torch.arange(N_ROTATIONS)).float().mean())


def guess_rotations(model: RotationPrediction, images: torch.Tensor) -> RotationGuesses:
    """Turn each image by every quarter turn and ask a trained rotation model which angle it sees.

    Gidaris, Singh & Komodakis (2018), "Unsupervised Representation Learning by Predicting Image
    Rotations", ICLR, arXiv:1803.07728.

    Args:
        model: a trained :class:`~sslcore.methods.rotation.RotationPrediction`.
        images: uint8 (B, C, H, H).
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square uint8 (B, C, H, H), got {images.dtype} {tuple(images.shape)}")
    b = len(images)
    quarter_turns = torch.arange(N_ROTATIONS).repeat(b)  # (4B,): 0, 1, 2, 3 for each image
    turned = rotate(to_float(images).repeat_interleave(N_ROTATIONS, dim=0), quarter_turns)  # (4B, C, H, H)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model.classifier(model.backbone(normalize(turned))).float()  # (4B, 4)
    finally:
        model.train(was_training)
    return RotationGuesses(turned=turned.view(b, N_ROTATIONS, *turned.shape[1:]),
                           probabilities=logits.softmax(dim=-1).view(b, N_ROTATIONS, N_ROTATIONS))


# --- Label efficiency -----------------------------------------------------------------------------

def label_efficiency_table(points: Iterable[dict[str, Any]], method: str, *, protocol: str = "linear",
                           metric: str = "auc"):
    """The SSL method against both baselines at each label fraction, averaged over seeds.

    Args:
        points: evaluation points (``run_experiment``'s).
        method: the SSL method's name in the points.
        protocol: the SSL method's protocol (``linear``, ``knn`` or ``finetune``); the random
            baseline is read under the same frozen protocol, the supervised one under ``finetune``.
        metric: ``auc``, ``acc`` or ``balanced_acc``.

    Returns:
        A DataFrame indexed by fraction with columns n_labelled, ``method``, supervised, random
        (NaN where a baseline was not run) and gain (``method`` minus supervised).
    """
    import pandas as pd

    from sslcore.lab import curve_summary

    summary = curve_summary(points, metric)

    def by_fraction(name: str, name_protocol: str):
        return summary[(summary["method"] == name) & (summary["protocol"] == name_protocol)].set_index("fraction")

    ssl = by_fraction(method, protocol)
    if ssl.empty:
        raise ValueError(f"no {method} ({protocol}) points with {metric} to tabulate")
    table = pd.DataFrame({"n_labelled": ssl["n_labelled"], method: ssl["mean"],
                          "supervised": by_fraction("supervised", "finetune")["mean"],
                          "random": by_fraction("random", protocol)["mean"]}).sort_index()
    table["gain"] = table[method] - table["supervised"]
    return table


def pretraining_curves(history: list[dict[str, Any]]):
    """A pretraining history (``PretrainResult.history``) as two DataFrames for charts.

    Returns:
        ``loss``: columns step and loss, one row per step; ``knn``: columns epoch and kNN accuracy,
        one row per epoch that measured it (empty when the run did not monitor it).
    """
    import pandas as pd

    steps = pd.DataFrame([row for row in history if "loss" in row], columns=["step", "loss"])
    knn = pd.DataFrame([{"epoch": row["epoch"], "kNN accuracy": row["knn_accuracy"]} for row in history
                        if row.get("knn_accuracy") is not None], columns=["epoch", "kNN accuracy"])
    return steps, knn


PIPELINE_DIAGRAM = (
    'digraph {rankdir=LR; bgcolor="transparent"; '
    'node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11]; '
    'edge [fontname="Helvetica", fontsize=9]; '
    'u [label="many images\nwithout labels"]; p [label="pretext task\n(e.g. match two altered copies)"]; '
    'e [label="pretrained\nencoder", fillcolor="#dff0d8"]; l [label="a few images\nwith expert labels"]; '
    'c [label="classifier on top\n(fine-tuning)"]; d [label="finding\n(e.g. effusion)", fillcolor="#fde8d8"]; '
    'u -> p [label="1. pretraining"]; p -> e; e -> c [label="2. fine-tuning"]; l -> c; c -> d;}'
)
"""Graphviz DOT of the two stages of self-supervised learning, for ``st.graphviz_chart``."""


# --- Strategies and the catalogue -----------------------------------------------------------------

@dataclass(frozen=True)
class StrategyOverview:
    """One strategy of the reviews' taxonomy, with the catalogue's studies and the project's methods.

    Attributes:
        value: the strategy's key (``contrastive`` ...), as in ``studies.csv``.
        label: its display name.
        explanation: the taxonomy's plain-language explanation.
        n_studies: studies of the catalogue annotated with it.
        examples: up to a few of them, newest first.
        methods: the project's methods of this strategy (``MethodInfo``).
        link: relative URL of the catalogue page filtered to it.
    """

    value: str
    label: str
    explanation: str
    n_studies: int
    examples: tuple[Any, ...]
    methods: tuple[Any, ...]
    link: str


def catalogue_link(strategy: str) -> str:
    """The catalogue page filtered to one strategy, as a URL relative to any page of the app
    (``pages/catalogue.py`` reads the ``strategy`` query parameter)."""
    from urllib.parse import urlencode

    return "catalogue?" + urlencode({"strategy": strategy})


def strategy_overview(studies: Iterable[Any], taxonomy, n_examples: int = 3) -> list[StrategyOverview]:
    """Each strategy of ``taxonomy`` with its studies and methods, in the taxonomy's order.

    Args:
        studies: catalogue studies (``Catalogue.studies``).
        taxonomy: ``sslcore.catalogue.load_taxonomy()``.
        n_examples: examples per strategy, newest first (then by title).
    """
    from sslcore.methods import METHODS

    if n_examples < 0:
        raise ValueError(f"n_examples must be >= 0, got {n_examples}")
    studies = list(studies)
    overview = []
    for value, term in taxonomy.strategies.items():
        members = sorted((study for study in studies if study.ssl_strategy == value),
                         key=lambda study: (-(study.year or 0), study.title))
        overview.append(StrategyOverview(
            value=value, label=term.label, explanation=term.explanation, n_studies=len(members),
            examples=tuple(members[:n_examples]),
            methods=tuple(info for info in METHODS.values() if info.strategy == value), link=catalogue_link(value)))
    return overview


# --- Words ----------------------------------------------------------------------------------------

GLOSSARY = {
    "AUC (area under the ROC curve)": "How well a model's scores rank images with a finding above images without "
        "it: 0.5 is guessing, 1.0 is perfect. With several findings it is averaged over each finding against the "
        "rest.",
    "Augmentation": "A random alteration of an image (cropping, turning slightly, changing brightness or "
        "contrast, blurring, adding noise, greying out a patch) that keeps its meaning.",
    "Backbone (encoder)": "The part of a network that turns an image into a representation. Pretraining trains "
        "it; the classifier sits on top.",
    "Baseline": "A simpler approach measured the same way, so a result means something: here the same network "
        "trained from scratch on the labelled images only (supervised), and a network that never learned "
        "(random encoder).",
    "Batch": "The handful of images the network looks at in one training step; contrastive methods compare the "
        "images of a batch with each other.",
    "Collapse": "A failure of self-supervised training in which the network gives every image the same "
        "representation: the pretext task looks solved but nothing was learned.",
    "Contrastive learning": "Self-supervised learning that pulls two views of the same image together and pushes "
        "views of other images apart (SimCLR, MoCo, MICLe).",
    "Domain": "The kind of images a model learned from (chest radiographs, photographs of everyday objects ...). "
        "A model can stumble on images from another domain (domain shift).",
    "Embedding (representation, features)": "The list of numbers an encoder makes from an image. Images the "
        "network finds alike get similar lists.",
    "Epoch": "One pass of training over every training image.",
    "Fine-tuning": "The second stage: training on the labelled images, either only a classifier on top of the "
        "pretrained encoder or the whole network, starting from the pretrained weights.",
    "Generative (reconstruction) learning": "Self-supervised learning that hides or damages part of an image "
        "and trains the network to restore it (masked autoencoders, inpainting, denoising).",
    "Hybrid": "Two or more self-supervised strategies trained together.",
    "ImageNet": "A public collection of over a million labelled photographs of everyday objects, often used to "
        "pretrain networks before they see any medical image.",
    "In-domain data": "Images of the same kind as the target task (for a chest X-ray task: chest X-rays, "
        "labelled or not).",
    "Innate relationship (pretext task)": "Self-supervised learning through a puzzle whose answer the image "
        "itself holds, such as which way up it is or where a patch belongs.",
    "kNN (k nearest neighbours)": "A classifier that labels an image by a vote of the labelled images whose "
        "representations are closest to its own.",
    "Label": "The answer an expert gives for an image (a finding, a diagnosis, an outline). Training a "
        "classifier needs labels; self-supervised pretraining does not.",
    "Label efficiency (label-efficiency curve)": "How good a model gets for a given number of labelled images; "
        "the curve plots performance against the fraction of training labels used.",
    "Label fraction": "The share of the training images whose label is used (1% means one image in a hundred).",
    "Linear probe (linear classifier)": "The simplest classifier: a weighted sum of the representation's "
        "numbers per finding, trained on the labelled images while the encoder stays fixed. It shows how much "
        "the representation already knows.",
    "Masked autoencoder (MAE)": "A generative method: most square tiles of the image are hidden and the network "
        "redraws them from the visible ones.",
    "MICLe": "Multi-instance contrastive learning: like SimCLR, but the two views are two different images of "
        "the same patient.",
    "Negative pair": "Views of two different images, which a contrastive loss pushes apart.",
    "Non-contrastive learning": "Self-supervised learning that pulls two views of an image together without "
        "pushing other images away, with a trick that prevents collapse (BYOL, SimSiam, Barlow Twins).",
    "Patch (tile)": "One of the small squares an image is cut into; a masked autoencoder hides and redraws whole "
        "patches.",
    "Positive pair": "Two views that should be recognised as the same: two altered copies of one image, or two "
        "images of one patient (MICLe).",
    "Pretext task": "A made-up task whose answer the computer already knows, so that no expert has to label "
        "anything: predict the rotation, redraw hidden tiles, match altered copies.",
    "Pretraining": "The first stage: the network practises a pretext task on many unlabelled images.",
    "Rotation prediction": "A pretext task: the image is turned by 0, 90, 180 or 270 degrees and the network "
        "says which.",
    "Seed": "The number that fixes a random draw, so the same seed gives the same result; reporting several "
        "seeds shows how much luck is in a number.",
    "Self-supervised learning (SSL)": "Learning from images without labels, by solving a pretext task; the "
        "labels are kept for a short fine-tuning afterwards.",
    "Similarity (cosine similarity)": "How alike two representations are, from -1 (opposite) through 0 "
        "(unrelated) to 1 (the same direction).",
    "Supervised learning": "Learning from images with their labels only: the usual way, and the baseline.",
    "Synthetic data": "Images drawn by a computer program rather than taken from patients; the built-in set "
        "simulates chest radiographs with five findings.",
    "View": "One altered version of an image as the network sees it during pretraining.",
    "Vision Transformer (ViT)": "A network that reads an image as a sequence of patches and relates every patch "
        "to every other; the encoder of masked autoencoders.",
}
"""Every technical term the Learn page uses, with a plain definition (term -> definition)."""

GUIDELINES = {
    "Choose a strategy for the modality": [
        "Radiographs, CT and MRI: start with a contrastive or non-contrastive method (SimCLR, MoCo, BYOL) on "
        "your own unlabelled scans; if patients have several images or studies, make them positive pairs "
        "(MICLe).",
        "3D scans (CT, MRI): prefer methods that see volumes or neighbouring slices over single 2D slices when "
        "the finding spans slices.",
        "Histopathology: tiles from whole slides are plentiful; contrastive and masked-image methods both work, "
        "and colour (stain) changes are valid augmentations there, unlike in radiology.",
        "Small or fine findings (nodules, microcalcifications): masked reconstruction keeps local detail that "
        "heavy cropping may throw away.",
        "Little unlabelled data and little compute: a pretext task such as rotation, or simply an ImageNet-"
        "pretrained encoder, may be all that pays off.",
    ],
    "Pretraining data": [
        "Start from ImageNet weights when a suitable network exists: it is free and rarely hurts.",
        "Continue pretraining on unlabelled images of your own modality (in-domain): it usually helps more than "
        "ImageNet alone when the images look unlike photographs.",
        "Use every unlabelled image you may legally use, including those of the test hospital's archive only if "
        "no test image or test patient is among them.",
        "Split by patient, not by image, so that no patient is in both the training and the test set.",
    ],
    "Augmentations for greyscale radiographs": [
        "Use cropping, small rotations (about 10 degrees), brightness, contrast and gamma changes, a little blur "
        "and noise.",
        "Leave out colour changes: a greyscale image has no colour to alter.",
        "Think before flipping left-right: it is harmless for many tasks but makes the heart appear on the wrong "
        "side, which matters for tasks about laterality or situs.",
        "Do not crop so tightly that the finding can fall outside the view; small findings need gentler crops.",
        "Look at the views (as on this page) before training: a radiologist should still recognise the anatomy.",
    ],
    "Evaluate with label fractions and baselines": [
        "Measure at several label fractions (for example 1%, 10% and 100%), not only with all labels: the benefit "
        "of pretraining shows at the small ones.",
        "Compare with the same network trained from scratch on the same labelled images, and with an ImageNet-"
        "pretrained network.",
        "Repeat each fraction with several seeds (different labelled subsets) and show the spread.",
        "Choose settings on a validation set only; touch the test set once.",
        "Test on images from another hospital or scanner if you can: pretraining should also help there.",
    ],
    "What to report": [
        "The pretraining data: source, number of images and patients, modality, and whether any test patient "
        "was among them.",
        "The method, the encoder, the image size, the augmentations and the training length.",
        "Results per label fraction with their spread over seeds or confidence intervals, next to the baselines.",
        "The compute used (hardware and time) and the code or weights, so others can repeat it.",
        "Failures and limits: where pretraining did not help.",
    ],
}
"""Practical guidelines for a self-supervised study, as a checklist (section -> items)."""


# --- Assets ---------------------------------------------------------------------------------------

def default_experiment() -> ExperimentConfig:
    """The experiment whose curve and SimCLR encoder ship: the ``cpu-quick`` preset on the synthetic set."""
    from sslcore.presets import preset

    return preset("cpu-quick", "synthetic")


def default_rotation() -> PretrainConfig:
    """The shipped rotation model: a small CNN on 64 px synthetic radiographs."""
    return PretrainConfig(method="rotation", backbone="small_cnn", image_size=64, epochs=4, batch_size=128,
                          lr=2e-3, augment="light", knn_monitor=False, device="cpu",
                          dataset_options={"n_images": 4000})


@dataclass(frozen=True)
class AssetRecipe:
    """What ``build-assets`` trains. The defaults are what ships; tests pass tiny ones.

    Attributes:
        experiment: SimCLR pretraining + label-efficiency sweep (the curve and the similarity encoder).
        rotation: the rotation model; its ``dataset``, ``image_size``, ``seed`` and ``dataset_options``
            also give the images the masked autoencoder trains on.
        mae: the masked autoencoder (its architecture's image size must equal the rotation model's).
    """

    experiment: ExperimentConfig = field(default_factory=default_experiment)
    rotation: PretrainConfig = field(default_factory=default_rotation)
    mae: MAERecipe = field(default_factory=MAERecipe)

    def __post_init__(self) -> None:
        if self.mae.architecture.image_size != self.rotation.image_size:
            raise ValueError(f"the masked autoencoder ({self.mae.architecture.image_size} px) and the rotation "
                             f"model ({self.rotation.image_size} px) train on the same images: use one size")


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point tensors as float16 (half the bytes; loading casts them back)."""
    return {key: value.half() if value.is_floating_point() else value for key, value in state.items()}


def _save(path: Path, state: dict[str, Any]) -> int:
    from sslcore.io import atomic_write_bytes

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return len(buffer.getvalue())


def _pretrained_state(result, dataset) -> dict[str, Any]:
    """A checkpoint ``sslcore.train.load_pretrained`` reads, in float16 and without optimiser state."""
    return {"model": _half(result.method.state_dict()), "config": result.config.to_dict(),
            "history": result.history,
            "dataset": {"channels": dataset.channels, "n_classes": dataset.n_classes, "task": dataset.task,
                        "label_names": list(dataset.label_names), "name": dataset.name}}


def build_assets(out_dir: str | Path | None = None, recipe: AssetRecipe | None = None,
                 on_message: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and save what the Learn page shows; the manifest says how each file was made.

    Writes :data:`CURVE_FILE` (every evaluation point of the SimCLR experiment),
    :data:`SIMCLR_FILE` and :data:`ROTATION_FILE` (float16 checkpoints ``load_pretrained`` reads),
    :data:`MAE_FILE` (float16 weights of the teaching masked autoencoder) and :data:`MANIFEST_FILE`,
    replacing the folder's previous content as a whole once everything is built.

    Args:
        out_dir: where to write (:data:`ASSETS_DIR`, what ships, when None).
        recipe: what to train; :class:`AssetRecipe` defaults when None.
        on_message: receives progress lines.

    Returns:
        The manifest.
    """
    recipe = recipe or AssetRecipe()
    target = Path(out_dir or ASSETS_DIR)
    # Everything is written to a staging folder that replaces the target at the end, so a build that
    # fails half-way (or is interrupted) leaves the previous set whole rather than mixed with new files.
    out_dir = target.with_name(f".{target.name}.building")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)  # an unwritable destination fails now, not after minutes of training
    try:
        manifest = _build_into(out_dir, recipe, on_message)
        _replace_folder(out_dir, target)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    on_message(f"wrote {len(manifest['bytes']) + 1} files ({sum(manifest['bytes'].values()) / 2 ** 20:.1f} MB) to "
               f"{target} in {manifest['timings']['total_s'] / 60:.1f} min")
    return manifest


def _replace_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` in the place of ``target`` (a reader finds the old set, the new one or none)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _build_into(out_dir: Path, recipe: AssetRecipe, on_message: Callable[[str], None]) -> dict[str, Any]:
    """:func:`build_assets`'s training and writing, into ``out_dir``."""
    from sslcore.data import load_dataset
    from sslcore.experiment import run_experiment
    from sslcore.io import atomic_write_json
    from sslcore.train import pretrain

    started = time.perf_counter()
    timings: dict[str, float] = {}
    files: dict[str, int] = {}

    experiment = recipe.experiment
    on_message(f"1/3 {experiment.pretrain.method} on {experiment.pretrain.dataset} with the label-efficiency sweep")
    result = run_experiment(experiment, on_progress=_epoch_printer(on_message, "simclr"))
    timings.update({f"experiment_{key}": value for key, value in result.timings.items()})
    files[CURVE_FILE] = atomic_write_json(out_dir / CURVE_FILE, result.points).stat().st_size
    files[SIMCLR_FILE] = _save(out_dir / SIMCLR_FILE, _pretrained_state(result.pretrain, result.dataset))

    rotation_config = recipe.rotation
    on_message(f"2/3 rotation prediction, {rotation_config.backbone}, {rotation_config.image_size} px")
    tick = time.perf_counter()
    images = load_dataset(rotation_config.dataset, image_size=rotation_config.image_size, seed=rotation_config.seed,
                          **rotation_config.dataset_options)
    timings["teaching_data_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    rotation = pretrain(rotation_config, dataset=images, on_progress=_epoch_printer(on_message, "rotation"))
    timings["rotation_s"] = time.perf_counter() - tick
    files[ROTATION_FILE] = _save(out_dir / ROTATION_FILE, _pretrained_state(rotation, images))
    test_images = images.splits["test"].images
    rotation_accuracy = guess_rotations(rotation.method.cpu(), test_images).accuracy

    on_message(f"3/3 masked autoencoder, {recipe.mae.architecture.image_size} px")
    tick = time.perf_counter()
    mae, mae_history = train_mae(recipe.mae, images.splits["train"].images,
                                 on_epoch=lambda epoch, loss: on_message(f"  mae epoch {epoch}/{recipe.mae.epochs}"
                                                                         f"  loss {loss:.4f}"))
    timings["mae_s"] = time.perf_counter() - tick
    files[MAE_FILE] = _save(out_dir / MAE_FILE, {"model": _half(mae.state_dict()), "recipe": recipe.mae.to_dict()})
    reconstruction = reconstruct(mae, test_images, seed=0)
    timings["total_s"] = time.perf_counter() - started

    manifest = {
        "command": BUILD_COMMAND,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__, "python": platform.python_version(),
        "device": result.pretrain.device, "timings": timings, "bytes": files,
        "experiment": {"config": experiment.to_dict(), "file": CURVE_FILE, "encoder": SIMCLR_FILE,
                       "n_points": len(result.points), "final_loss": _last_loss(result.pretrain.history),
                       "knn_accuracy": _last_knn(result.pretrain.history)},
        "rotation": {"config": rotation_config.to_dict(), "file": ROTATION_FILE,
                     "final_loss": _last_loss(rotation.history), "test_accuracy": rotation_accuracy,
                     "test_images": len(test_images)},
        "mae": {"recipe": recipe.mae.to_dict(), "file": MAE_FILE, "final_loss": mae_history[-1]["loss"],
                "test_error": float(reconstruction.error.mean()),
                "test_baseline_error": float(reconstruction.baseline_error.mean()),
                "test_images": len(test_images)},
        "model_images": {"dataset": rotation_config.dataset, "image_size": rotation_config.image_size,
                         "seed": rotation_config.seed, "n_images": sum(map(len, images.splits.values()))},
    }
    atomic_write_json(out_dir / MANIFEST_FILE, manifest)
    return manifest


def _epoch_printer(on_message: Callable[[str], None], name: str) -> Callable:
    """A ``pretrain`` progress callback that reports each epoch's end (the report carrying its collapse score)."""
    def report(progress) -> None:
        if progress.collapse_score is not None:
            knn = f"  kNN accuracy {progress.knn_accuracy:.3f}" if progress.knn_accuracy is not None else ""
            on_message(f"  {name} epoch {progress.epoch}/{progress.epochs}  loss {progress.loss:.4f}{knn}")
    return report


def _last_loss(history: list[dict[str, Any]]) -> float | None:
    return next((row["loss"] for row in reversed(history) if "loss" in row), None)


def _last_knn(history: list[dict[str, Any]]) -> float | None:
    return next((row["knn_accuracy"] for row in reversed(history) if row.get("knn_accuracy") is not None), None)


@dataclass
class LearnAssets:
    """The shipped models and points, loaded.

    Attributes:
        manifest: how they were made (:func:`build_assets`'s manifest).
        points: every evaluation point of the SimCLR experiment.
        simclr: the pretrained SimCLR method (``sslcore.train.PretrainResult``), eval mode.
        rotation: the pretrained rotation model (``PretrainResult``), eval mode.
        mae_state: the masked autoencoder's (float16) weights, for :meth:`mae`.
        mae_recipe: how it was built and trained.
    """

    manifest: dict[str, Any]
    points: list[dict[str, Any]]
    simclr: Any
    rotation: Any
    mae_state: dict[str, torch.Tensor]
    mae_recipe: MAERecipe

    def mae(self, mask_ratio: float | None = None) -> MAE:
        """The trained masked autoencoder hiding ``mask_ratio`` of the patches (its training ratio when None).

        The weights do not depend on the ratio, so one trained model shows any ratio.
        """
        model = self.mae_recipe.architecture.build(self.mae_recipe.mask_ratio if mask_ratio is None else mask_ratio)
        model.load_state_dict(self.mae_state)
        return model.eval()


def load_manifest(directory: str | Path | None = None) -> dict[str, Any]:
    """The assets' manifest (in :data:`ASSETS_DIR` when ``directory`` is None).

    Raises:
        FileNotFoundError: not built yet (the message gives the command that builds them).
        ValueError: unreadable.
    """
    path = Path(directory or ASSETS_DIR) / MANIFEST_FILE
    if not path.exists():
        raise FileNotFoundError(f"the Learn page's assets are not built ({path} is missing); run `{BUILD_COMMAND}`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); rebuild with `{BUILD_COMMAND}`") from None


def load_assets(directory: str | Path | None = None) -> LearnAssets:
    """Load everything :func:`build_assets` wrote in ``directory`` (:data:`ASSETS_DIR` when None).

    Raises:
        FileNotFoundError: a file is missing (the message gives the command that builds them).
        ValueError: a file is unreadable.
    """
    from sslcore.train import load_checkpoint, load_pretrained

    directory = Path(directory or ASSETS_DIR)
    manifest = load_manifest(directory)
    missing = [name for name in (CURVE_FILE, SIMCLR_FILE, ROTATION_FILE, MAE_FILE) if not (directory / name).exists()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing from {directory}; run `{BUILD_COMMAND}`")
    points = json.loads((directory / CURVE_FILE).read_text(encoding="utf-8"))
    mae = load_checkpoint(directory / MAE_FILE)
    recipe = mae["recipe"]
    mae_recipe = MAERecipe(**{**recipe, "architecture": MAEArchitecture(**recipe["architecture"])})
    return LearnAssets(manifest=manifest, points=points, simclr=load_pretrained(directory / SIMCLR_FILE),
                       rotation=load_pretrained(directory / ROTATION_FILE),
                       mae_state=mae["model"], mae_recipe=mae_recipe)


def provenance(manifest: dict[str, Any]) -> dict[str, str]:
    """Where each picture's numbers come from, one sentence per asset (``curve``, ``rotation``, ``mae``)."""
    from sslcore.lab import format_duration

    made = (f"computed by the project with `{manifest['command']}` on {manifest['created'][:10]} "
            f"(torch {manifest['torch']}, {manifest['device']})")
    timings = manifest["timings"]
    experiment = manifest["experiment"]["config"]
    evaluation = experiment["evaluation"]
    n_images = f"{experiment['max_train_images']:,}" if experiment.get("max_train_images") else "all"
    rotation = manifest["rotation"]["config"]
    mae = manifest["mae"]["recipe"]
    architecture = mae["architecture"]
    data = manifest["model_images"]
    images = f"{data['n_images']:,} synthetic {data['image_size']} px radiographs (seed {data['seed']})"
    return {
        "curve": (f"{made}: {experiment['method']} pretraining of a {experiment['backbone']} for "
                  f"{experiment['epochs']} epochs on {n_images} synthetic {experiment['image_size']} px training "
                  f"images, then {' and '.join(evaluation['protocols'])} probes at "
                  f"{len(evaluation['fractions'])} label fractions x {len(evaluation['seeds'])} seeds against the "
                  f"{' and '.join(evaluation['baselines'])} baselines "
                  f"({format_duration(timings['experiment_total_s'])})."),
        "rotation": (f"{made}: rotation prediction with a {rotation['backbone']} trained for {rotation['epochs']} "
                     f"epochs on the training split of {images} ({format_duration(timings['rotation_s'])})."),
        "mae": (f"{made}: a masked autoencoder (a Vision Transformer of {architecture['depth']} layers, "
                f"{architecture['embed_dim']}-wide tokens, predicting raw pixels) trained for {mae['epochs']} epochs "
                f"hiding {mae['mask_ratio']:.0%} of the tiles, on the training split of {images} "
                f"({format_duration(timings['mae_s'])})."),
    }
