"""Where a backbone's weights start: random (the default), ImageNet, a weights file or another run.

``init`` values (``PretrainConfig.init``):

- ``random``: the backbone's own seeded initialisation.
- ``imagenet``: torchvision's published supervised ImageNet weights of ResNet-18/50, through
  torchvision's weights API (``ResNet18_Weights.IMAGENET1K_V1``), read from torchvision's cache
  (``torch.hub.get_dir()/checkpoints``); offline without them, one sentence says what to do. They are
  adapted to this project's backbones: for 1-channel images the first convolution's weights are summed
  over the three colour channels (a grey image is R = G = B, so the response is unchanged); for small
  images (the 3x3 stride-1 stem of ``sslcore.models.ResNet``) each 7x7 kernel is area-averaged to 3x3
  and scaled by the area ratio 49/9 (its pattern at the coarser scale, roughly its response to a
  uniform image). This is the starting point of Azizi et al. (2021) and REMEDIS (Azizi et al., 2023).
- ``file:PATH``: a backbone state dict, or a MedSSL pretraining checkpoint (its backbone is taken).
- ``run:ID``: the pretrained backbone of run ID of the run store.

Every file is read with ``torch.load(weights_only=True)``: nothing in it is executed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sslcore.training.config import check_init

IMAGENET_BACKBONES = {"resnet18": "ResNet18_Weights", "resnet50": "ResNet50_Weights"}


def imagenet_weights_path(backbone: str) -> Path:
    """Where torchvision keeps ``backbone``'s ImageNet weights once downloaded."""
    import torchvision

    if backbone not in IMAGENET_BACKBONES:
        raise ValueError(f"ImageNet weights exist here for {', '.join(IMAGENET_BACKBONES)} only, not {backbone!r}")
    weights = getattr(torchvision.models, IMAGENET_BACKBONES[backbone]).IMAGENET1K_V1
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def imagenet_available(backbone: str) -> bool:
    """Whether ``backbone``'s ImageNet weights can be had without a download."""
    return backbone in IMAGENET_BACKBONES and imagenet_weights_path(backbone).is_file()


def imagenet_downloadable(backbone: str, timeout: float = 3.0) -> bool:
    """Whether torchvision's server answers for ``backbone``'s ImageNet weights (a HEAD request)."""
    import urllib.error
    import urllib.request

    import torchvision

    url = getattr(torchvision.models, IMAGENET_BACKBONES[backbone]).IMAGENET1K_V1.url
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _imagenet_state(backbone: str) -> dict[str, torch.Tensor]:
    path = imagenet_weights_path(backbone)
    if not path.is_file():
        try:
            import torchvision

            getattr(torchvision.models, IMAGENET_BACKBONES[backbone]).IMAGENET1K_V1.get_state_dict(progress=False)
        except Exception:  # no network, a proxy, a full disk: all mean the weights cannot be had now
            raise ValueError(
                f"ImageNet weights for {backbone} are not in torchvision's cache ({path}) and could not be downloaded: "
                f"connect to the internet once (they are saved there for later), or pass init=file:PATH with a "
                f"weights file") from None
    return _read(path)


def _read(path: Path) -> dict[str, torch.Tensor]:
    from sslcore.training.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _backbone_state_of(state: dict, source: str) -> dict[str, torch.Tensor]:
    """A plain backbone state dict from a file's content: itself, or a checkpoint's ``backbone.*``."""
    if "model" in state and isinstance(state["model"], dict):
        model = state["model"]
        prefix = "backbone."
        backbone = {key[len(prefix):]: value for key, value in model.items() if key.startswith(prefix)}
        if not backbone:
            raise ValueError(f"{source} is a checkpoint without a backbone")
        return backbone
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{source} holds neither a state dict of tensors nor a MedSSL checkpoint")
    return state


def adapt_imagenet_state(state: dict[str, torch.Tensor], target: nn.Module) -> dict[str, torch.Tensor]:
    """torchvision ResNet weights (keys ``conv1.weight`` ...) -> this project's ResNet backbone
    (keys ``network.conv1.weight`` ...), with the first convolution adapted to the backbone's channels
    and stem (see the module docstring); the classifier is dropped."""
    wanted = target.state_dict()
    adapted = {}
    for key, value in state.items():
        ours = f"network.{key}"
        if key.startswith("fc.") or ours not in wanted:
            continue
        if key == "conv1.weight":
            value = _adapt_first_conv(value, wanted[ours].shape)
        adapted[ours] = value
    return adapted


def _adapt_first_conv(weight: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """(64, 3, 7, 7) ImageNet kernels -> ``shape`` (64, C, k, k): channels summed for C = 1; for a
    smaller stem, each kernel area-averaged to k x k (adaptive average pooling) and multiplied by the
    area ratio, which keeps its pattern at the coarser scale and roughly its response to a uniform image."""
    _, channels, k, _ = shape
    if channels == 1 and weight.shape[1] == 3:
        weight = weight.sum(dim=1, keepdim=True)
    if weight.shape[-1] != k:
        weight = torch.nn.functional.adaptive_avg_pool2d(weight, k) * (weight.shape[-1] ** 2 / k ** 2)
    return weight.reshape(shape).contiguous()


def initialise(backbone: nn.Module, init: str, backbone_name: str) -> nn.Module:
    """Load ``init``'s weights into ``backbone`` (in place) and return it.

    Raises:
        ValueError: an unknown form, a missing or foreign file, ImageNet weights that cannot be had,
            or weights that do not fit the backbone (with the mismatching names).
    """
    init = check_init(init)
    if init == "random":
        return backbone
    if init == "imagenet":
        state = adapt_imagenet_state(_imagenet_state(backbone_name), backbone)
        source = f"ImageNet weights of {backbone_name}"
    else:
        if init.startswith("run:"):
            from sslcore.runs.store import RunStore

            path = RunStore().artifact_path(int(init[4:]), "checkpoint.pt")
        else:
            path = Path(init[5:]).expanduser()
        source = str(path)
        state = _backbone_state_of(_read(path), source)
    try:
        backbone.load_state_dict(state, strict=True)
    except RuntimeError as error:  # missing, unexpected or mis-shaped weights
        first_line = str(error).splitlines()[0]
        raise ValueError(f"{source} does not fit a {backbone_name} backbone for these images ({first_line})") from None
    return backbone
