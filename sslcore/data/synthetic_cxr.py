"""Synthetic frontal chest radiographs: the offline default dataset and the teaching set.

Every image is drawn procedurally, so the dataset needs no download and has no licence
restrictions. Each simulated patient has their own anatomy (body habitus, breast shadows, rib
cage and lung shape, heart size and shape, diaphragm height, vascular texture, gastric bubble)
and one of five findings:

* normal;
* consolidation: a lobar or segmental airspace opacity, fluffy, often with a sharp fissural margin;
* nodule: one round, well-defined, dense opacity of about 3 to 4 cm inside a lung field;
* pleural effusion: dependent fluid that blunts the costophrenic angle with a meniscus rising
  laterally, and, when larger, hides the hemidiaphragm (one side, sometimes both);
* cardiomegaly: an enlarged, rounder heart (cardiothoracic ratio, CTR, mostly 0.5 to 0.68).

The true CTR of the other classes lies between 0.36 and 0.52, so the two ranges overlap and
borderline hearts exist on both sides; each view also changes the apparent CTR the way real films
do: an AP film magnifies the heart by 8 to 18 % and a shallow inspiration widens it.

Each of a patient's one to four views is a new acquisition (Azizi et al., 2021, MICLe, use such
pairs): PA or AP projection (heart magnification, scapulae over the lungs, clavicle position),
inspiration depth, patient rotation (mediastinum off the midline), position and tilt on the
detector, field of view, exposure and kVp (brightness and contrast), and detector noise.

Findings are drawn larger and denser than most real ones so that a reader names each of them at
32 px (the default size): the nodule is 2 to 3 px across there, a consolidation 4 to 8 px, an
effusion rises 5 to 12 px along the chest wall. The acquisition and habitus variation is large
next to what a finding adds to the image's mean or to any half or quadrant of it, so no single
intensity statistic gives the class away.

Rendering works in normalised coordinates (x to the right, y downwards, the image spanning [-1, 1];
the image's left is the patient's right): each patient is drawn upright on a canvas, the view's
tilt, position and field of view resample it, and all images of a pass are drawn together with
tensor ops (no per-pixel or per-image Python). Ribs are finer than a pixel below 64 px and are drawn
from 64 px up.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from sslcore.data.base import ImageDataset, Split, split_by_patient

CLASS_NAMES = ["normal", "consolidation", "nodule", "pleural effusion", "cardiomegaly"]
IMAGE_SIZES = (28, 32, 64, 128)
DEFAULT_IMAGE_SIZE = 32
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
DESCRIPTION = (
    "Synthetic frontal chest radiographs drawn procedurally (no real patients): body and breast soft "
    "tissue, lungs with vascular markings, ribs, clavicles, spine, mediastinum and aortic knob, heart, "
    "diaphragm domes and gastric bubble. One finding per simulated patient: normal, consolidation "
    "(patchy lobar or segmental opacity), nodule (one round opacity of about 3-4 cm), pleural "
    "effusion (basal opacity with a meniscus blunting the costophrenic angle) or cardiomegaly "
    "(enlarged heart, cardiothoracic ratio mostly above 0.5; normal and enlarged hearts overlap near "
    "0.5). Findings are drawn larger and denser than most real ones so that they stay legible at 32 px. "
    "One to four views per patient, each a new acquisition: PA or AP (magnified heart), inspiration "
    "depth, patient rotation, position, field of view, exposure, contrast and noise. Split 70/15/15 "
    "by patient."
)
_CHUNK = 256  # images drawn together; bounds memory at 128 px
_PIXELS_PER_PASS = 2 ** 19  # pixels of one pass of film: its intermediates stay in the CPU cache
_TEXTURE_CELLS = 7  # resolution of the per-patient lung texture before it is stretched over the image
_EXTENT = 1.1  # the anatomy canvas spans [-_EXTENT, _EXTENT] in both directions


def make_synthetic_cxr(n_images: int = 5000, image_size: int = DEFAULT_IMAGE_SIZE, seed: int = 0) -> ImageDataset:
    """Draw a synthetic chest X-ray dataset.

    The same seed gives the same patients, labels, views and splits at every image size, so one
    index names one image across sizes.

    Args:
        n_images: total number of images over the three splits.
        image_size: 28, 32, 64 or 128 (pixels per side).
        seed: the same seed gives the same images, labels and splits.

    Returns:
        An ``ImageDataset`` named "synthetic", 1 channel, 5 classes, split by patient.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 20:
        raise ValueError(f"n_images must be an integer of at least 20, got {n_images!r}")
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES} for the synthetic dataset, got {image_size!r}")
    generator = torch.Generator().manual_seed(int(seed))
    params, patient_of_image = sample_parameters(int(n_images), generator)
    images = torch.empty(n_images, 1, image_size, image_size, dtype=torch.uint8)
    for start in range(0, n_images, _CHUNK):
        chunk = {name: value[start:start + _CHUNK] for name, value in params.items()}
        images[start:start + _CHUNK] = render(chunk, image_size, generator)

    labels = params["label"]
    index = split_by_patient(patient_of_image.numpy(), SPLIT_FRACTIONS, seed)
    splits = {
        name: Split(images[torch.from_numpy(idx)], labels[torch.from_numpy(idx)], patient_of_image[torch.from_numpy(idx)])
        for name, idx in index.items()
    }
    return ImageDataset(
        name="synthetic", task="multi-class", label_names=list(CLASS_NAMES), splits=splits,
        licence="CC0 (synthetic, generated by MedSSL Explorer)", description=DESCRIPTION, synthetic=True,
    )


def sample_parameters(n_images: int, generator: torch.Generator) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Patients with one to four views each, until ``n_images`` views exist.

    Returns:
        The parameters of every image (tensors (n_images,), textures (n_images, 1, cells, cells)):
        its patient's anatomy and finding, then its own acquisition; and the patient id of each
        image (int64 (n_images,)).
    """
    views = torch.randint(1, 5, (n_images,), generator=generator)
    n_patients = int(torch.searchsorted(torch.cumsum(views, 0), n_images).item()) + 1
    views = views[:n_patients]
    views[-1] -= int(views.sum()) - n_images
    patient_of_image = torch.repeat_interleave(torch.arange(n_patients), views)  # (N,)
    patients = _sample_patients(n_patients, generator)
    params = {name: value[patient_of_image] for name, value in patients.items()}
    params.update(_sample_views(n_images, generator))
    return params, patient_of_image


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _sample_patients(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Anatomy and finding of each patient: tensors (n,) or (n, 1, cells, cells) for textures."""
    u = lambda low, high: _uniform(n, low, high, generator)  # noqa: E731
    coin = lambda p: (torch.rand(n, generator=generator) < p).float()  # noqa: E731
    label = torch.randint(0, len(CLASS_NAMES), (n,), generator=generator)
    habitus = u(0.0, 1.0)  # thin (0) to heavy (1): wider body, thicker soft tissue
    thorax_hw = u(0.64, 0.8)  # half width of the rib cage inside the ribs
    # Cardiothoracic ratio of the heart on a PA film at full inspiration: the two ranges overlap
    # between 0.48 and 0.52 (borderline hearts, as readers disagree there), and views add magnification on top.
    ctr = torch.where(label == 4, u(0.48, 0.68), u(0.36, 0.52))
    p = {
        "label": label,
        "thorax_hw": thorax_hw,
        "body_hw": thorax_hw + 0.1 + 0.2 * habitus + u(0.0, 0.06),
        "soft_tissue": 0.55 + 0.35 * habitus + u(0.0, 0.1),
        "neck_hw": u(0.26, 0.36),
        "breast": coin(0.45) * u(0.12, 0.3),
        "breast_r": u(0.24, 0.34),
        "mediastinum_hw": u(0.1, 0.14),
        "apex_y": u(-0.9, -0.78),
        "base_y": u(0.62, 0.8),  # costophrenic angles at full inspiration
        "dome_h": u(0.1, 0.2),
        "right_dome_lift": u(0.02, 0.07),  # the right hemidiaphragm (image left) sits higher
        "ctr": ctr,
        # The heart's long axis over its short one: enlarged hearts are rounder.
        "heart_aspect": torch.where(label == 4, u(1.15, 1.35), u(1.35, 1.6)),
        "heart_tilt": u(0.7, 0.95),  # long axis from the vertical, radians: the apex points to the patient's left
        "heart_offset": u(0.26, 0.4),  # centre right of the midline, in heart half-widths
        "knob_r": u(0.045, 0.07),  # aortic knob
        "lung_air": u(0.6, 0.75),
        "rib_spacing": u(0.12, 0.15),
        "rib_curve": u(0.4, 0.7),
        "rib_phase": u(0.0, 1.0),
        "bubble": coin(0.6) * u(0.15, 0.35),  # gastric air under the left hemidiaphragm
        "bubble_r": u(0.05, 0.09),
        "texture": torch.rand(n, 1, _TEXTURE_CELLS, _TEXTURE_CELLS, generator=generator),
        "finding_side": torch.where(coin(0.5) > 0, -1.0, 1.0),  # lung carrying the finding (-1: image left)
    }
    # Finding sites in lung-relative coordinates: t_x from medial (0) to lateral (1), t_y from apex (0) to base (1).
    p["consolidation"] = (label == 1).float() * u(0.65, 0.95)  # fraction of the air replaced
    p["consolidation_r"] = u(0.14, 0.24)
    p["consolidation_tx"] = u(0.45, 0.75)  # clear of the heart: a finding behind it is a classic miss
    p["consolidation_ty"] = u(0.15, 0.65)
    p["consolidation_fissure"] = coin(0.5)  # a sharp lower margin along a fissure
    p["nodule"] = (label == 2).float() * u(0.55, 0.8)
    p["nodule_r"] = u(0.07, 0.095)
    p["nodule_tx"] = u(0.5, 0.85)  # clear of the heart and the hila
    p["nodule_ty"] = u(0.15, 0.6)
    p["effusion"] = (label == 3).float()
    p["effusion_depth"] = u(0.25, 0.5)
    p["effusion_bilateral"] = coin(0.25)
    return p


def _sample_views(n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Acquisition of each view, tensors (n,): projection, breathing, positioning, exposure, noise."""
    u = lambda low, high: _uniform(n, low, high, generator)  # noqa: E731
    ap = (torch.rand(n, generator=generator) < 0.35).float()  # AP (bedside) rather than PA
    return {
        "ap": ap,
        "heart_magnification": 1 + ap * u(0.08, 0.18),
        "inspiration": u(0.82, 1.04),  # lung height relative to the patient's full inspiration
        "rotation": u(-0.05, 0.05),  # mediastinum off the midline when the patient is turned
        "angle": u(-7.0, 7.0) * math.pi / 180,
        "shift_x": u(-0.07, 0.07),
        "shift_y": u(-0.07, 0.07),
        "zoom": u(0.9, 1.15),  # field of view
        "exposure": u(0.7, 1.4),  # attenuation scale: under- or over-penetrated films
        "gamma": u(0.7, 1.4),  # kVp and processing: film contrast
        "noise_std": u(0.01, 0.04),
    }


def _step(distance: torch.Tensor, edge: float | torch.Tensor) -> torch.Tensor:
    """About 0 for distance << 0, 1 for distance >> 0, over a width of ``edge``."""
    return torch.sigmoid(distance / edge)


def render(params: dict[str, torch.Tensor], image_size: int, generator: torch.Generator) -> torch.Tensor:
    """Draw a chunk of radiographs from per-image parameters (from :func:`sample_parameters`).

    ``generator`` draws the detector noise.

    Returns:
        uint8 (n, 1, image_size, image_size).
    """
    n = params["angle"].shape[0]
    # The noise-free film is drawn a few images at a time: its dozens of full-size intermediates then
    # stay in the CPU cache. The noise is drawn for the whole chunk at once, so the images do not
    # depend on this pass size.
    per_pass = max(1, _PIXELS_PER_PASS // image_size ** 2)
    image = torch.cat([film({name: value[start:start + per_pass] for name, value in params.items()}, image_size)
                       for start in range(0, n, per_pass)])
    noise = torch.randn(image.shape, generator=generator)
    image = image + params["noise_std"].view(n, 1, 1, 1) * noise
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def film(params: dict[str, torch.Tensor], image_size: int) -> torch.Tensor:
    """The noise-free radiographs of ``params``: float (n, 1, image_size, image_size) in [0, 1].

    The patient is drawn upright on a canvas in anatomy coordinates, where most terms are a product
    or sum of a function of x (n, 1, W) and one of y (n, H, 1); the view's tilt, position and field
    of view then resample that canvas once, and the film response turns attenuation into brightness.
    """
    n = params["angle"].shape[0]
    canvas = math.ceil(_EXTENT * image_size)  # canvas pixels per side: about one per image pixel
    coords = (torch.arange(canvas, dtype=torch.float32) + 0.5) * (2 * _EXTENT / canvas) - _EXTENT
    x, y = coords.view(1, 1, canvas), coords.view(1, canvas, 1)
    edge = 0.5 / image_size  # soft edges of a quarter of an image pixel, in normalised units
    col = lambda name: params[name].view(n, 1, 1)  # noqa: E731

    # Per-view anatomy: breathing moves the diaphragm; turning the patient moves the mediastinum.
    apex, thorax_hw, medial = col("apex_y"), col("thorax_hw"), col("mediastinum_hw")
    inspiration = col("inspiration")
    base = apex + (col("base_y") - apex) * inspiration  # costophrenic angles
    span_y = base - apex
    xm = x - col("rotation")  # (n, 1, W) in the mediastinum's frame
    axm = xm.abs()
    side_base = base - col("right_dome_lift") * (xm < 0).float()  # the patient's right dome sits higher
    ap = col("ap")

    body, along = _soft_tissue(col, x, y, axm, apex, span_y, thorax_hw, ap, edge)

    # Mediastinum, with the aortic knob bulging to the image right.
    knob_r = col("knob_r")
    knob = (1 - ((xm - medial + 0.3 * knob_r) / knob_r) ** 2) - ((y - apex - 0.3 * span_y) / (1.5 * knob_r)) ** 2
    mediastinum = torch.maximum(_step(medial - axm, edge), torch.sigmoid(knob * 10))

    t_x, below, inside_ribs, lung = _lungs(col, x, y, axm, apex, span_y, thorax_hw, medial, side_base,
                                           mediastinum, edge)
    t_x2 = t_x * t_x

    inside = _heart(col, x, y, apex, span_y, thorax_hw, inspiration)
    heart = torch.sigmoid(inside * 25)
    heart_density = heart * (0.3 * inside.clamp_(min=0).sqrt_() + 0.15)
    # The heart overlaps the mediastinum and, below the diaphragm, merges with the abdomen, as dense.
    heart_density = torch.maximum(heart_density, 0.3 * mediastinum)
    along = along + heart_density + below * (0.3 - heart_density)
    lung = lung * (1 - heart)
    density = body * along

    # Breast shadows: soft tissue over both lower zones with a rounded lower fold.
    breast_r, breast_y = col("breast_r"), base - 0.12
    breast = (1 - ((x.abs() - 0.55 * thorax_hw) / breast_r) ** 2) - ((y - breast_y) / breast_r) ** 2
    fade = col("breast") * _step(y - breast_y + 0.5 * breast_r, 0.08)  # (n, H, 1)
    density = density + breast.clamp_(min=0).sqrt_() * fade

    # Findings, placed in lung-relative coordinates (t_x across, t_y down) on the finding side.
    side = col("finding_side")

    def lung_point(tx: str, ty: str) -> tuple[torch.Tensor, torch.Tensor]:
        t = col(ty)
        width = thorax_hw * (0.55 + 0.45 * t ** 0.4) - medial
        return col("rotation") + side * (medial + col(tx) * width), apex + t * span_y

    texture = F.interpolate(params["texture"], size=(canvas, canvas), mode="bilinear", align_corners=False)[:, 0]
    fill, fluid = _consolidation_and_effusion(col, x, y, xm, lung_point("consolidation_tx", "consolidation_ty"),
                                              texture, side_base, span_y, t_x2, side)
    # Aerated lung: air thickest in the middle of each lung, minus what the findings fill; vascular
    # markings brighter towards the hila. Pleural fluid is as dense as the abdomen below it.
    lung_air = col("lung_air")
    air = torch.addcmul(0.65 * lung_air, 1.4 * lung_air, t_x - t_x2) * (1 - fill)
    hilum = torch.exp(-(((axm - medial - 0.05) / 0.1) ** 2)) * (0.2 * torch.exp(-(((y - apex - 0.5 * span_y) / 0.16) ** 2)))
    density = density + lung * (hilum + 0.12 * texture - air + 0.25 * fluid)
    # Nodule: a sphere of soft tissue.
    nx, ny = lung_point("nodule_tx", "nodule_ty")
    nodule = (1 - ((x - nx) / col("nodule_r")) ** 2) - ((y - ny) / col("nodule_r")) ** 2
    density = torch.addcmul(density, nodule.clamp_(min=0).sqrt_(), col("nodule"))

    density = _bones_and_gastric_air(density, col, x, y, xm, apex, base, thorax_hw, ap, inside_ribs, below,
                                     image_size)
    return _expose(density, params, image_size)


def _soft_tissue(col, x, y, axm, apex, span_y, thorax_hw, ap, edge) -> tuple[torch.Tensor, torch.Tensor]:
    """The body's width profile and the extra path length through its depth. The body is a cylinder
    (path length falls towards the edges) below the neck and shoulders; the spine, the scapulae (AP
    films only) and the trachea (air) add or remove path length."""
    ax = x.abs()
    body_hw = col("neck_hw") + (col("body_hw") - col("neck_hw")) * _step(y - apex + 0.08, 0.1)  # (n, H, 1)
    body = torch.addcmul(torch.ones(1, 1, 1), x * x, body_hw ** -2, value=-1).clamp_(min=0).sqrt_()
    along = 0.06 * _step(0.05 - ax, 0.015) + col("soft_tissue")
    along = along + (0.15 * ap * _step(ax - 0.8 * thorax_hw, 0.03)) * (_step(apex + 0.5 * span_y - y, 0.05) * _step(y - apex, 0.05))
    along = along - (0.25 * _step(0.035 - axm, edge)) * _step(apex + 0.25 * span_y - y, 0.03)
    return body, along


def _lungs(col, x, y, axm, apex, span_y, thorax_hw, medial, side_base, mediastinum, edge):
    """Where the lungs are: rounded apices, lateral edge along the ribs widening downwards, medial edge
    at the mediastinum, lower edge at the diaphragm domes (highest a third of the way out, falling
    steeply to the costophrenic angles). Returns the position across each lung (0 medial, 1
    lateral), the abdomen below the diaphragm, the inside of the rib cage and the lung fields."""
    lateral = thorax_hw * (0.55 + 0.45 * ((y - apex) / span_y).clamp(0, 1) ** 0.4)  # (n, H, 1)
    t_x = ((axm - medial) * (1 / (lateral - medial))).clamp_(0, 1)  # 0 medial, 1 lateral
    dome_h = col("dome_h")
    diaphragm = (side_base - dome_h) + (dome_h / 0.65 ** 2) * (t_x - 0.35) ** 2
    below = _step(y - diaphragm, edge)  # the abdomen
    top = apex + 0.35 * ((2 * axm - medial - thorax_hw) / (thorax_hw - medial)) ** 2  # (n, 1, W)
    inside_ribs = _step(lateral - x.abs(), edge) * (1 - below)
    return t_x, below, inside_ribs, inside_ribs * (1 - mediastinum) * _step(y - top, 0.03)


def _heart(col, x, y, apex, span_y, thorax_hw, inspiration) -> torch.Tensor:
    """How far inside the heart each canvas point is (1 at its centre, 0 on its outline): a tilted
    ellipsoid whose top reaches the hila; below its widest row it keeps that row's width down to the
    diaphragm. Its width is the CTR times the thorax width, magnified on AP films and widened by a
    shallow breath."""
    cos_t, sin_t = torch.cos(col("heart_tilt")), torch.sin(col("heart_tilt"))
    aspect = col("heart_aspect")
    half_width = col("ctr") * thorax_hw * col("heart_magnification") * (1 + 0.6 * (1 - inspiration).clamp(min=0))
    heart_a = half_width / (cos_t ** 2 + (aspect * sin_t) ** 2).sqrt()  # short semi-axis
    heart_b = aspect * heart_a  # long semi-axis, pointing down and to the image right
    half_height = (heart_a ** 2 * sin_t ** 2 + heart_b ** 2 * cos_t ** 2).sqrt()
    heart_y = apex + 0.45 * span_y + half_height
    widest = (heart_b ** 2 - heart_a ** 2) * sin_t * cos_t / half_width  # below the centre
    hu = x - (col("rotation") + col("heart_offset") * half_width)  # (n, 1, W)
    hv = torch.minimum(y - heart_y, widest)  # (n, H, 1)
    u_ = hu * (cos_t / heart_a) - hv * (sin_t / heart_a)
    v_ = hu * (sin_t / heart_b) + hv * (cos_t / heart_b)
    return 1 - u_.square_() - v_.square_()


def _consolidation_and_effusion(col, x, y, xm, centre, texture, side_base, span_y, t_x2, side):
    """What the airspace findings fill of the lung (0 to 1), and the pleural fluid alone.

    Consolidation: a flat-topped patch around ``centre``, fluffy through the lung texture, often cut
    by a fissure. Effusion: fluid rising laterally along the chest wall (the meniscus), filling the
    costophrenic angle."""
    cx, cy = centre
    radius = col("consolidation_r")
    margin = 1 - col("consolidation_fissure") * _step(y - cy - 0.4 * radius, 0.012)
    blob_y = col("consolidation") * margin * torch.exp(-(((y - cy) / radius) ** 4))  # (n, H, 1)
    blob = torch.exp(-(((x - cx) / radius) ** 4)) * blob_y
    fill = (blob * torch.add(torch.tensor(0.7), texture, alpha=0.8)).clamp_(max=1)
    depth = col("effusion_depth") * span_y
    fluid_top = (side_base - 0.2 * depth) - (0.8 * depth) * t_x2
    on_side = torch.maximum((torch.sign(xm) == side).float(), col("effusion_bilateral")) * col("effusion")
    fluid = _step(y - fluid_top, 0.015) * on_side
    return torch.maximum(fill, fluid), fluid


def _bones_and_gastric_air(density, col, x, y, xm, apex, base, thorax_hw, ap, inside_ribs, below,
                           image_size: int) -> torch.Tensor:
    """``density`` with the bones and the stomach's air: posterior ribs arching down laterally
    (finer than a pixel below 64 px, so left out there), clavicles (higher and flatter on AP films),
    and gastric air under the left hemidiaphragm."""
    ax = x.abs()
    if image_size >= 64:
        rib_phase = (y / col("rib_spacing") + col("rib_phase")) - (col("rib_curve") / col("rib_spacing")) * x * x
        ribs = torch.cos(2 * math.pi * rib_phase).clamp_(min=0).square_()
        density = torch.addcmul(density, ribs, inside_ribs, value=0.05)
    clavicle_y = apex + 0.06 - 0.1 * ap - (0.25 - 0.15 * ap) * ax  # (n, 1, W)
    clavicle = torch.exp(-(((y - clavicle_y) / 0.035) ** 2))
    density = density + clavicle * (0.3 * _step(thorax_hw + 0.12 - ax, 0.03) * _step(ax - 0.07, 0.02))
    bubble_r = col("bubble_r")
    bubble = torch.exp(-(((xm - 0.45 * thorax_hw) / bubble_r) ** 2)) * (
        col("bubble") * torch.exp(-(((y - base + col("dome_h") - bubble_r) / (0.7 * bubble_r)) ** 2)))
    return density - bubble * below


def _expose(density: torch.Tensor, params: dict[str, torch.Tensor], image_size: int) -> torch.Tensor:
    """The view, then the film: tilt, position and field of view resample the canvas (border values
    continue it); attenuation becomes brightness with each view's exposure and contrast (noise comes
    later). Returns float (n, 1, image_size, image_size) in [0, 1]."""
    n = density.shape[0]
    cos_a, sin_a, zoom = torch.cos(params["angle"]), torch.sin(params["angle"]), params["zoom"]
    shift_x, shift_y = params["shift_x"], params["shift_y"]
    theta = torch.stack([
        torch.stack([cos_a, -sin_a, -cos_a * shift_x + sin_a * shift_y], dim=1),
        torch.stack([sin_a, cos_a, -sin_a * shift_x - cos_a * shift_y], dim=1),
    ], dim=1) / (zoom * _EXTENT).view(n, 1, 1)  # (n, 2, 3): view coordinates to canvas coordinates
    grid = F.affine_grid(theta, [n, 1, image_size, image_size], align_corners=False)
    density = F.grid_sample(density.unsqueeze(1), grid, mode="bilinear", padding_mode="border", align_corners=False)
    exposure, gamma = params["exposure"].view(n, 1, 1, 1), params["gamma"].view(n, 1, 1, 1)
    image = 1 - torch.exp(-1.4 * exposure * density.clamp_(min=0))
    return image.clamp_(0, 1) ** gamma
