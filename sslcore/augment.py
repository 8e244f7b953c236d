"""Batched image augmentations on the images' device, with independent parameters per sample.

The whole pipeline is a handful of batched tensor ops: random resized crop, horizontal flip and
rotation are fused into one affine warp per sample (``affine_grid`` + ``grid_sample``), Gaussian
blur is a separable grouped convolution with one kernel per sample, and brightness / contrast /
gamma, noise and cut-out are broadcast arithmetic. Random parameters are drawn on the CPU from a
``torch.Generator`` and then moved, so CPU and CUDA give the same views for the same seed.

The transforms follow SimCLR (Chen et al., 2020, "A Simple Framework for Contrastive Learning of
Visual Representations", https://arxiv.org/abs/2002.05709) without the colour ones, which mean
nothing for greyscale radiographs (Azizi et al., 2021, https://arxiv.org/abs/2101.05224), plus
cut-out (DeVries & Taylor, 2017, https://arxiv.org/abs/1708.04552). The ``crop`` preset is the
masked autoencoder's recipe, random resized crop and horizontal flip only (He et al., 2022, "Masked
Autoencoders Are Scalable Vision Learners", https://arxiv.org/abs/2111.06377): the masking is its
augmentation, and blur, noise or cut-out would only make the pixels it reconstructs less meaningful.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

PRESETS = ("radiograph", "light", "crop", "none")
_MEAN, _STD = 0.5, 0.25  # model input scaling (``normalize``)


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations to apply and how strongly.

    Attributes:
        crop_scale: range of the crop's area as a fraction of the image; (1, 1) disables cropping.
        crop_ratio: range of the crop's aspect ratio (width / height).
        hflip_p: probability of a horizontal flip.
        rotation_deg: rotations are uniform in [-rotation_deg, rotation_deg].
        brightness: brightness factor uniform in [1 - brightness, 1 + brightness].
        contrast: contrast factor uniform in [1 - contrast, 1 + contrast] around each image's mean.
        gamma: gamma log-uniform in [1 / (1 + gamma), 1 + gamma].
        blur_p: probability of a Gaussian blur.
        blur_sigma: range of the blur's standard deviation, as a fraction of the image side.
        noise_std: Gaussian noise with a standard deviation uniform in [0, noise_std] per sample.
        cutout_p: probability of masking one rectangle with mid-grey.
        cutout_scale: range of the masked rectangle's area as a fraction of the image.
    """

    crop_scale: tuple[float, float] = (1.0, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_p: float = 0.0
    rotation_deg: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    gamma: float = 0.0
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.005, 0.04)
    noise_std: float = 0.0
    cutout_p: float = 0.0
    cutout_scale: tuple[float, float] = (0.02, 0.15)

    def __post_init__(self) -> None:
        _check_range("crop_scale", self.crop_scale, 0.0, 1.0, open_low=True)
        _check_range("crop_ratio", self.crop_ratio, 0.0, math.inf, open_low=True)
        _check_range("blur_sigma", self.blur_sigma, 0.0, 1.0, open_low=True)
        _check_range("cutout_scale", self.cutout_scale, 0.0, 1.0, open_low=True)
        for name in ("hflip_p", "blur_p", "cutout_p"):
            _check_value(name, getattr(self, name), 0.0, 1.0)
        _check_value("rotation_deg", self.rotation_deg, 0.0, 180.0)
        _check_value("brightness", self.brightness, 0.0, 0.99)
        _check_value("contrast", self.contrast, 0.0, 0.99)
        _check_value("gamma", self.gamma, 0.0, 10.0)
        _check_value("noise_std", self.noise_std, 0.0, 1.0)

    @classmethod
    def preset(cls, name: str, strength: float = 1.0) -> "AugmentConfig":
        """A named preset, its magnitudes scaled by ``strength``.

        Args:
            name: "radiograph" (the SimCLR recipe made greyscale-safe), "light" (small
                geometric and intensity changes), "crop" (random resized crop with an area of
                35 to 100 % and a horizontal flip, the masked autoencoder's recipe) or "none".
            strength: 0 to 2; scales crop range, rotation, intensity changes, noise and the
                blur / cut-out probabilities. 0 turns everything off.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown augmentation preset {name!r}; choose one of {', '.join(PRESETS)}")
        if not 0.0 <= strength <= 2.0:
            raise ValueError(f"augmentation strength must be in [0, 2], got {strength}")
        if name == "none" or strength == 0:
            return cls()
        if name == "light":
            base = cls(crop_scale=(0.7, 1.0), hflip_p=0.5, rotation_deg=5.0, brightness=0.1, contrast=0.1,
                       gamma=0.1, noise_std=0.01)
        elif name == "crop":
            # MAE crops 20-100 % of a 224 px image; at 28 px a 20 % crop keeps 12 px, so the floor is raised.
            base = cls(crop_scale=(0.35, 1.0), hflip_p=0.5)
        else:
            base = cls(crop_scale=(0.35, 1.0), hflip_p=0.5, rotation_deg=10.0, brightness=0.3, contrast=0.3,
                       gamma=0.3, blur_p=0.3, noise_std=0.03, cutout_p=0.25)
        return replace(
            base,
            crop_scale=(max(0.05, 1 - strength * (1 - base.crop_scale[0])), 1.0),
            rotation_deg=base.rotation_deg * strength,
            brightness=min(0.9, base.brightness * strength),
            contrast=min(0.9, base.contrast * strength),
            gamma=base.gamma * strength,
            blur_p=min(1.0, base.blur_p * strength),
            noise_std=base.noise_std * strength,
            cutout_p=min(1.0, base.cutout_p * strength),
        )


def _check_value(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"AugmentConfig.{name} must be a number in [{low}, {high}], got {value!r}")


def _check_range(name: str, value: tuple[float, float], low: float, high: float, open_low: bool) -> None:
    valid = (
        isinstance(value, (tuple, list)) and len(value) == 2
        and all(isinstance(v, (int, float)) for v in value)
        and (low < value[0] if open_low else low <= value[0]) and value[0] <= value[1] <= high
    )
    if not valid:
        raise ValueError(f"AugmentConfig.{name} must be (low, high) with {low} < low <= high <= {high}, got {value!r}")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in 0..255 -> float32 in [0, 1] (float input is returned as float32)."""
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    return images.float()


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Model input: (x - 0.5) / 0.25 for x in [0, 1]."""
    return (x - _MEAN) / _STD


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _affine(config: AugmentConfig, b: int, generator: torch.Generator | None) -> torch.Tensor:
    """Per-sample output -> input maps in normalised coordinates, (B, 2, 3): crop, flip, rotation."""
    area = _uniform(b, *config.crop_scale, generator)
    log_ratio = _uniform(b, math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]), generator)
    # Limit the ratio so that both sides fit in the image: a full-area crop is the whole image.
    log_ratio = torch.maximum(torch.minimum(log_ratio, -area.log()), area.log())
    width = (area * log_ratio.exp()).sqrt()  # fraction of the image side
    height = (area / log_ratio.exp()).sqrt()
    cx = (1 - width) * _uniform(b, -1.0, 1.0, generator)  # crop centre, keeping the crop inside
    cy = (1 - height) * _uniform(b, -1.0, 1.0, generator)
    flip = torch.where(torch.rand(b, generator=generator) < config.hflip_p, -1.0, 1.0)
    angle = _uniform(b, -config.rotation_deg, config.rotation_deg, generator) * (math.pi / 180)
    cos, sin = angle.cos(), angle.sin()
    # input = R(angle) @ diag(flip * width, height) @ output + centre
    return torch.stack([
        torch.stack([cos * flip * width, -sin * height, cx], dim=1),
        torch.stack([sin * flip * width, cos * height, cy], dim=1),
    ], dim=1)


def _blur(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None) -> torch.Tensor:
    """Separable Gaussian blur with one sigma per sample; unblurred samples get a delta kernel."""
    b, c, h, w = x.shape
    side = min(h, w)
    sigma = _uniform(b, *config.blur_sigma, generator) * side  # pixels
    sigma = torch.where(torch.rand(b, generator=generator) < config.blur_p, sigma, torch.zeros_like(sigma))
    radius = min(max(1, math.ceil(3 * config.blur_sigma[1] * side)), (side - 1) // 2)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))  # (B, K)
    kernel = (kernel / kernel.sum(1, keepdim=True)).to(x.device)
    kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, K): one kernel per (sample, channel) group
    flat = x.reshape(1, b * c, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def _cutout_mask(config: AugmentConfig, b: int, h: int, w: int, generator: torch.Generator | None) -> torch.Tensor:
    """Boolean (B, 1, H, W), True inside each sample's masked rectangle (none when not drawn)."""
    area = _uniform(b, *config.cutout_scale, generator)
    log_ratio = _uniform(b, math.log(0.5), math.log(2.0), generator)
    half_w = (area * log_ratio.exp()).sqrt().clamp(max=1.0) / 2  # fractions of the side
    half_h = (area / log_ratio.exp()).sqrt().clamp(max=1.0) / 2
    cx, cy = torch.rand(b, generator=generator), torch.rand(b, generator=generator)
    active = torch.rand(b, generator=generator) < config.cutout_p
    xs = (torch.arange(w) + 0.5) / w  # pixel centres in [0, 1]
    ys = (torch.arange(h) + 0.5) / h
    inside_x = (xs[None, :] - cx[:, None]).abs() < half_w[:, None]  # (B, W)
    inside_y = (ys[None, :] - cy[:, None]).abs() < half_h[:, None]  # (B, H)
    return (inside_y[:, :, None] & inside_x[:, None, :] & active[:, None, None])[:, None]


def augment(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch, drawing independent random parameters for every sample.

    Args:
        images: uint8 (B, C, H, W) in 0..255 or float in [0, 1], on any device.
        config: what to apply.
        generator: a CPU generator for the random parameters (the default CPU RNG when None).

    Returns:
        float32 (B, C, H, W) in [0, 1] on the images' device.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    if generator is not None and generator.device.type != "cpu":
        raise ValueError("generator must be a CPU torch.Generator (parameters are drawn on the CPU, then moved)")
    x = to_float(images)
    b, c, h, w = x.shape
    device = x.device

    if config.crop_scale != (1.0, 1.0) or config.hflip_p > 0 or config.rotation_deg > 0:
        theta = _affine(config, b, generator).to(device)
        grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    if config.brightness > 0 or config.contrast > 0 or config.gamma > 0:
        bright = _uniform(b, 1 - config.brightness, 1 + config.brightness, generator)
        contrast = _uniform(b, 1 - config.contrast, 1 + config.contrast, generator)
        log_gamma = math.log1p(config.gamma)
        gamma = _uniform(b, -log_gamma, log_gamma, generator).exp()
        bright, contrast, gamma = (v.to(device).view(b, 1, 1, 1) for v in (bright, contrast, gamma))
        x = (x * bright).clamp(0, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * contrast + mean).clamp(0, 1)
        x = x.pow(gamma)

    if config.blur_p > 0 and min(h, w) >= 3:
        x = _blur(x, config, generator)

    if config.noise_std > 0:
        std = _uniform(b, 0.0, config.noise_std, generator).view(b, 1, 1, 1)
        x = x + (std * torch.randn(b, c, h, w, generator=generator)).to(device)

    if config.cutout_p > 0:
        mask = _cutout_mask(config, b, h, w, generator).to(device)
        x = x.masked_fill(mask, 0.5)

    return x.clamp(0, 1)


def preview_views(images: torch.Tensor, config: AugmentConfig, n_views: int, seed: int = 0) -> torch.Tensor:
    """Augmented views of a few images, for display.

    Args:
        images: uint8 or float (N, C, H, W).
        config: the augmentation to show.
        n_views: views per image.
        seed: the same seed shows the same views.

    Returns:
        float32 (N, n_views, C, H, W) in [0, 1], on the CPU.
    """
    if n_views < 1:
        raise ValueError(f"n_views must be at least 1, got {n_views}")
    generator = torch.Generator().manual_seed(seed)
    repeated = images.repeat_interleave(n_views, dim=0)  # (N * n_views, C, H, W)
    views = augment(repeated, config, generator).cpu()
    return views.reshape(images.shape[0], n_views, *images.shape[1:])
