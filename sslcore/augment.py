"""Batched image augmentations on the images' device, with independent parameters per sample.

The whole pipeline is a handful of batched tensor ops on the full batch, with no per-sample Python
loop: random resized crop, horizontal flip and rotation are composed into one affine map per sample
and applied in one bilinear sampling at the output size (``grid_sample``); brightness, contrast and
gamma are in-place broadcast arithmetic; the Gaussian blur is separable, applied as two small
matrix products (reflect padding folded into the matrices) to the samples drawn for it only; noise
and cut-out are generated where the images are.

Reproducibility and devices: every call draws all per-sample random numbers at once, ``(B, 17)``
uniforms and two integer keys, from a CPU ``torch.Generator``; the parameters derived from them are
packed into one small tensor and moved with one copy (pinned, non-blocking on CUDA). The Gaussian
noise comes from a counter-based hash of each pixel's index keyed by the two integers (integer
tensor ops, the same on every device), looked up in a table of normal quantiles, so CPU and CUDA
give the same views for the same seed and the step never waits for the host.

The transforms follow SimCLR (Chen et al., 2020, "A Simple Framework for Contrastive Learning of
Visual Representations", https://arxiv.org/abs/2002.05709) without the colour ones, which mean
nothing for greyscale radiographs (Azizi et al., 2021, https://arxiv.org/abs/2101.05224), plus
cut-out (DeVries & Taylor, 2017, https://arxiv.org/abs/1708.04552). The ``crop`` preset is the
masked autoencoder's recipe, random resized crop and horizontal flip only (He et al., 2022, "Masked
Autoencoders Are Scalable Vision Learners", https://arxiv.org/abs/2111.06377): the masking is its
augmentation, and blur, noise or cut-out would only make the pixels it reconstructs less meaningful.
"""

from __future__ import annotations

import functools
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


# Columns of the (B, N_DRAWS) uniform numbers every call draws, whatever the config, so that a seed
# gives the same crop, flip, angle ... at every strength (the Learn page's slider scales, not reshuffles).
(_AREA, _RATIO, _CENTRE_X, _CENTRE_Y, _FLIP, _ANGLE, _BRIGHTNESS, _CONTRAST, _GAMMA, _BLUR, _SIGMA, _NOISE,
 _CUTOUT, _CUTOUT_AREA, _CUTOUT_RATIO, _CUTOUT_X, _CUTOUT_Y) = range(17)
N_DRAWS = 17
# The noise: a 32-bit hash per pair of pixels, each 16-bit half indexing a table of normal quantiles.
_TABLE_BITS = 16
_MAX_NOISE_ELEMENTS = 2 * (2**31 - 1)  # pixel pairs are counted in int32


def _scaled(u: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Uniform draws in [0, 1) -> [low, high)."""
    return low + (high - low) * u


def _affine(config: AugmentConfig, u: torch.Tensor) -> torch.Tensor:
    """Per-sample output -> input maps in normalised coordinates, (B, 2, 3): crop, flip, rotation."""
    area = _scaled(u[:, _AREA], *config.crop_scale)
    log_ratio = _scaled(u[:, _RATIO], math.log(config.crop_ratio[0]), math.log(config.crop_ratio[1]))
    # Limit the ratio so that both sides fit in the image: a full-area crop is the whole image.
    log_ratio = torch.maximum(torch.minimum(log_ratio, -area.log()), area.log())
    width = (area * log_ratio.exp()).sqrt()  # fraction of the image side
    height = (area / log_ratio.exp()).sqrt()
    cx = (1 - width) * _scaled(u[:, _CENTRE_X], -1.0, 1.0)  # crop centre, keeping the crop inside
    cy = (1 - height) * _scaled(u[:, _CENTRE_Y], -1.0, 1.0)
    flip = torch.where(u[:, _FLIP] < config.hflip_p, -1.0, 1.0)
    angle = _scaled(u[:, _ANGLE], -config.rotation_deg, config.rotation_deg) * (math.pi / 180)
    cos, sin = angle.cos(), angle.sin()
    # input = R(angle) @ diag(flip * width, height) @ output + centre
    return torch.stack([
        torch.stack([cos * flip * width, -sin * height, cx], dim=1),
        torch.stack([sin * flip * width, cos * height, cy], dim=1),
    ], dim=1)


def _blur_radius(config: AugmentConfig, side: int) -> int:
    """Half-width in pixels of the blur kernels: 3 of the largest sigmas, within the reflect padding's limit."""
    return min(max(1, math.ceil(3 * config.blur_sigma[1] * side)), (side - 1) // 2)


def _blur_kernels(config: AugmentConfig, u: torch.Tensor, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples drawn for a blur (indices, (M,)) and their normalised Gaussian kernels, (M, 2 * radius + 1)."""
    index = (u[:, _BLUR] < config.blur_p).nonzero().flatten()
    sigma = _scaled(u[index, _SIGMA], *config.blur_sigma) * side  # pixels
    radius = _blur_radius(config, side)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))  # (M, K)
    return index, kernel / kernel.sum(1, keepdim=True)


def _cutout_boxes(config: AugmentConfig, u: torch.Tensor) -> torch.Tensor:
    """(B, 4): each sample's rectangle as centre x, centre y, half width, half height in normalised
    coordinates ([-1, 1] across the image); a sample not drawn for cut-out gets a negative half
    width, so that no pixel is inside."""
    area = _scaled(u[:, _CUTOUT_AREA], *config.cutout_scale)
    log_ratio = _scaled(u[:, _CUTOUT_RATIO], math.log(0.5), math.log(2.0))
    half_w = (area * log_ratio.exp()).sqrt().clamp(max=1.0)  # the side's fraction: a half side in [-1, 1] units
    half_h = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
    half_w = torch.where(u[:, _CUTOUT] < config.cutout_p, half_w, -1.0)
    return torch.stack([u[:, _CUTOUT_X] * 2 - 1, u[:, _CUTOUT_Y] * 2 - 1, half_w, half_h], dim=1)


def _to_device(parts: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The CPU parameter tensors as float32 views of one tensor on ``device``, moved in one copy
    (from pinned memory, non-blocking, on CUDA). The CPU takes the same path, so that both devices
    read the same packed numbers."""
    if not parts:
        return parts
    flat = torch.cat([part.flatten().float() for part in parts.values()])
    flat = flat.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else flat.to(device)
    moved, start = {}, 0
    for name, part in parts.items():
        moved[name] = flat[start:start + part.numel()].view(part.shape)
        start += part.numel()
    return moved


@functools.lru_cache(maxsize=16)
def _pixel_centres(n: int, device: torch.device) -> torch.Tensor:
    """The centres of ``n`` pixels in normalised coordinates, ``(2 i + 1) / n - 1`` in (-1, 1), made
    once per size and device (one op fewer per use: the step's host time matters on a GPU)."""
    return ((torch.arange(n, dtype=torch.float32) * 2 + 1) / n - 1).to(device)


def _grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sampling grid (B, H, W, 2) of the affine maps ``theta`` (B, 2, 3), as ``F.affine_grid`` with
    ``align_corners=False``, built by broadcasting in a (B, 2, H, W) layout (no batched matrix product,
    and a contiguous last dimension for the one full-size op) and returned as a strided view."""
    along_x = theta[:, :, 0, None] * _pixel_centres(w, theta.device) + theta[:, :, 2, None]  # (B, 2, W)
    along_y = theta[:, :, 1, None] * _pixel_centres(h, theta.device)  # (B, 2, H)
    return (along_x[:, :, None, :] + along_y[:, :, :, None]).permute(0, 2, 3, 1)  # (B, H, W, 2)


@functools.lru_cache(maxsize=8)
def _reflect_basis(n: int, radius: int, device: torch.device) -> torch.Tensor:
    """(K, n * n) with K = 2 * radius + 1: tap t of a 1-D filter with reflect padding as an n x n 0/1
    matrix (row i has its 1 at the input pixel that tap t reads for output pixel i)."""
    taps = torch.arange(2 * radius + 1)[:, None]
    rows = torch.arange(n)[None, :]
    source = (rows + taps - radius).abs()  # reflect at the start ...
    source = torch.where(source > n - 1, 2 * (n - 1) - source, source)  # ... and at the end
    basis = torch.zeros(2 * radius + 1, n, n)
    basis[taps.expand_as(source), rows.expand_as(source), source] = 1.0
    return basis.reshape(2 * radius + 1, n * n).to(device)


def _blur(x: torch.Tensor, index: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of the samples ``index`` of ``x`` (in place), one kernel each.

    Each 1-D pass is a matrix product with a banded (n x n) matrix per sample that includes the
    reflect padding, so it runs as one batched BLAS call whatever the kernels.
    """
    m = kernel.shape[0]
    if m == 0:
        return x
    b, c, h, w = x.shape
    radius = (kernel.shape[1] - 1) // 2
    along_w = (kernel @ _reflect_basis(w, radius, x.device)).view(m, 1, w, w)
    along_h = along_w if h == w else (kernel @ _reflect_basis(h, radius, x.device)).view(m, 1, h, h)
    if m == b:  # every sample (blur_p = 1): no gather, and ``index`` is 0 .. B-1 in order
        return along_h @ (x @ along_w.mT)
    blurred = along_h @ (x.index_select(0, index) @ along_w.mT)  # (M, C, H, W)
    return x.index_copy_(0, index, blurred)


@functools.lru_cache(maxsize=4)
def _normal_table(device: torch.device) -> torch.Tensor:
    """The 2**16 midpoint quantiles of the standard normal, scaled to unit variance (float32)."""
    levels = (torch.arange(2**_TABLE_BITS, dtype=torch.float64) + 0.5) / 2**_TABLE_BITS
    table = torch.special.ndtri(levels)
    return (table / table.square().mean().sqrt()).float().to(device)


def _hash32(h: torch.Tensor) -> torch.Tensor:
    """In place on int32 values taken as unsigned 32-bit words: Wellons' ``lowbias32`` integer hash
    (https://nullprogram.com/blog/2018/07/31/). Products wrap modulo 2**32 and every right shift is
    masked, so the int32 tensor holds the same bits as the unsigned algorithm on any device."""
    h.bitwise_xor_(h.bitwise_right_shift(16).bitwise_and_(0xFFFF))
    h.mul_(0x7FEB352D)
    h.bitwise_xor_(h.bitwise_right_shift(15).bitwise_and_(0x1FFFF))
    h.mul_(0x846CA68B - 2**32)
    h.bitwise_xor_(h.bitwise_right_shift(16).bitwise_and_(0xFFFF))
    return h


def hashed_normal(shape: tuple[int, ...], key: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal noise computed on ``device`` from a counter-based hash: the same numbers on
    every device for the same ``key``, with no host-to-device copy.

    Element ``e`` of the flattened result comes from pair counter ``i = e mod P`` (``P`` = half the
    elements, rounded up): ``h = lowbias32(i * (key[0] | 1) + key[1])`` (modulo 2**32); the first
    ``P`` elements take the table entry of its high 16 bits, the others of its low 16 bits. The table
    holds 2**16 normal quantiles, so values lie within about +-4.3.

    Args:
        shape: the output's shape.
        key: two integers in [-2**31, 2**31) (draw them from the run's generator).
        device: where to compute.

    Returns:
        float32 tensor of ``shape`` on ``device``.
    """
    numel = math.prod(shape)
    if numel > _MAX_NOISE_ELEMENTS:
        raise ValueError(f"hashed_normal draws at most {_MAX_NOISE_ELEMENTS} numbers per call, got {numel}")
    if not all(-2**31 <= k < 2**31 for k in key):
        raise ValueError(f"the noise key must be two integers in [-2**31, 2**31), got {key}")
    pairs = (numel + 1) // 2
    h = torch.arange(pairs, dtype=torch.int32, device=device)
    _hash32(h.mul_(key[0] | 1).add_(key[1]))  # an odd multiplier: a different walk for every key
    table = _normal_table(torch.device(device))
    out = torch.empty(2, pairs, device=device)
    torch.index_select(table, 0, h.bitwise_right_shift(16).bitwise_and_(0xFFFF), out=out[0])
    torch.index_select(table, 0, h.bitwise_and_(0xFFFF), out=out[1])
    return out.view(-1)[:numel].view(shape)


def augment(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch, drawing independent random parameters for every sample.

    Args:
        images: uint8 (B, C, H, W) in 0..255 or float in [0, 1], on any device.
        config: what to apply.
        generator: a CPU generator for the random parameters (the default CPU RNG when None); each
            call draws (B, 17) uniforms and two integers from it.

    Returns:
        float32 (B, C, H, W) in [0, 1] on the images' device, computed in float32 even inside an
        autocast region.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    if generator is not None and generator.device.type != "cpu":
        raise ValueError("generator must be a CPU torch.Generator (parameters are drawn on the CPU, then moved)")
    b, c, h, w = images.shape
    device = images.device
    u = torch.rand(b, N_DRAWS, generator=generator)  # (B, 17), on the CPU
    key = tuple(torch.randint(-2**31, 2**31, (2,), generator=generator).tolist())

    geometric = tuple(config.crop_scale) != (1.0, 1.0) or config.hflip_p > 0 or config.rotation_deg > 0
    intensity = config.brightness > 0 or config.contrast > 0 or config.gamma > 0
    parts: dict[str, torch.Tensor] = {}
    if geometric:
        parts["theta"] = _affine(config, u)  # (B, 2, 3)
    if intensity:
        log_gamma = math.log1p(config.gamma)
        parts["intensity"] = torch.stack([
            _scaled(u[:, _BRIGHTNESS], 1 - config.brightness, 1 + config.brightness),
            1 - _scaled(u[:, _CONTRAST], 1 - config.contrast, 1 + config.contrast),  # lerp weight towards the mean
            _scaled(u[:, _GAMMA], -log_gamma, log_gamma).exp(),
        ], dim=1)  # (B, 3)
    if config.blur_p > 0 and min(h, w) >= 3:
        parts["blur_index"], parts["blur_kernel"] = _blur_kernels(config, u, min(h, w))
    if config.noise_std > 0:
        parts["noise_std"] = _scaled(u[:, _NOISE], 0.0, config.noise_std)  # (B,)
    if config.cutout_p > 0:
        parts["cutout"] = _cutout_boxes(config, u)  # (B, 4)
    p = _to_device(parts, device)

    with torch.autocast(device_type=device.type, enabled=False):
        x = to_float(images)
        if geometric:
            x = F.grid_sample(x, _grid(p["theta"], h, w), mode="bilinear", padding_mode="zeros", align_corners=False)
        elif x is images:  # float32 input: the steps below work in place, never on the caller's tensor
            x = x.clone()
        if intensity:
            bright, toward_mean, gamma = (v.view(b, 1, 1, 1) for v in p["intensity"].unbind(1))
            x.mul_(bright).clamp_(0, 1)
            x.lerp_(x.mean(dim=(1, 2, 3), keepdim=True), toward_mean)  # contrast around each image's mean
            x.clamp_(0, 1).log_().mul_(gamma).exp_()  # x ** gamma, vectorised (0 stays 0)
        if "blur_kernel" in p:
            x = _blur(x, p["blur_index"].long(), p["blur_kernel"])
        if config.noise_std > 0:
            x.addcmul_(hashed_normal(x.shape, key, device), p["noise_std"].view(b, 1, 1, 1))
        x.clamp_(0, 1)
        if config.cutout_p > 0:
            centre_x, centre_y, half_w, half_h = (v[:, None] for v in p["cutout"].unbind(1))
            inside = (((_pixel_centres(h, device) - centre_y).abs() < half_h)[:, :, None]
                      & ((_pixel_centres(w, device) - centre_x).abs() < half_w)[:, None, :])  # (B, H, W)
            x.masked_fill_(inside[:, None], 0.5)
    return x


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
