"""Benchmarks behind BENCHMARKS.md: experiment presets, pretraining throughput, catalogue search.

Every number in BENCHMARKS.md comes from one of these functions, run by ``python -m sslcore bench``.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import torch


def environment() -> dict[str, Any]:
    """The machine a benchmark ran on."""
    info = {"torch": torch.__version__, "python": platform.python_version(), "cpu_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_preset(name: str, dataset: str = "synthetic", **overrides) -> dict[str, Any]:
    """Pretrain and sweep one preset; the JSON layout of ``bench --out``."""
    from sslcore.evaluate import summarise
    from sslcore.experiment import run_experiment
    from sslcore.presets import preset

    config = preset(name, dataset, **overrides)
    result = run_experiment(config)
    return {
        "preset": name,
        "dataset": dataset,
        "device": result.pretrain.device,
        "config": config.to_dict(),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
        "pretrain_images_per_second": round(result.pretrain.images_per_second, 1),
        "points": result.points,
        "summary": summarise(result.points),
        "environment": environment(),
    }


def preset_markdown(report: dict[str, Any], metric: str = "auc") -> str:
    """A markdown table of mean +- std of ``metric`` per method, protocol and label fraction."""
    rows = report["summary"]
    fractions = sorted({row["fraction"] for row in rows})
    keys = sorted({(row["method"], row["protocol"]) for row in rows})
    by_key = {(row["method"], row["protocol"], row["fraction"]): row for row in rows}
    header = "| method | protocol | " + " | ".join(f"{f:g}" for f in fractions) + " |"
    lines = [header, "|" + "---|" * (len(fractions) + 2)]
    for method, protocol in keys:
        cells = []
        for fraction in fractions:
            row = by_key.get((method, protocol, fraction))
            cells.append(f"{row[f'{metric}_mean']:.3f} ± {row[f'{metric}_std']:.3f}" if row else "")
        lines.append(f"| {method} | {protocol} | " + " | ".join(cells) + " |")
    timings = report["timings"]
    lines.append("")
    lines.append(f"{report['preset']} on {report['dataset']} ({report['device']}): pretraining "
                 f"{timings['pretrain_s']:.0f} s at {report['pretrain_images_per_second']:,.0f} images/s, "
                 f"evaluation {timings['eval_s']:.0f} s, total {timings['total_s']:.0f} s. "
                 f"Values: test {metric.upper()}, mean ± std over seeds.")
    return "\n".join(lines)


def synthetic_generation(image_size: int = 28, n_images: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Time to draw ``n_images`` built-in synthetic radiographs (every split) on the CPU."""
    from sslcore.data.synthetic_cxr import make_synthetic_cxr

    start = time.perf_counter()
    dataset = make_synthetic_cxr(n_images=n_images, image_size=image_size, seed=seed)
    seconds = time.perf_counter() - start
    drawn = sum(len(split.images) for split in dataset.splits.values())
    return {"image_size": image_size, "n_images": drawn, "seconds": round(seconds, 3),
            "images_per_second": round(drawn / seconds), "environment": environment()}


def timed_steps(step, n_warmup: int, n_steps: int, sync) -> float:
    """Seconds per step of ``step()``, after warm-up, synchronising the device around the clock."""
    for _ in range(n_warmup):
        step()
    sync()
    started = time.perf_counter()
    for _ in range(n_steps):
        step()
    sync()
    return (time.perf_counter() - started) / n_steps


def throughput(image_size: int = 28, backbone: str = "small_cnn", method: str = "simclr", batch_size: int = 256,
               n_images: int = 4000, n_steps: int = 30, device: str = "auto", with_lightly: bool = False) -> dict[str, Any]:
    """Pretraining images/s end to end against the model alone on random tensors.

    ``model_only`` runs the same method step on views that already sit on the device (no indexing,
    no augmentation), so ``end_to_end / model_only`` says how much the data path costs.
    ``lightly`` (optional) feeds the same model through lightly's per-image CPU transforms with a
    DataLoader, the common way SSL pipelines are built.
    """
    from sslcore.augment import AugmentConfig, augment, normalize
    from sslcore.config import PretrainConfig
    from sslcore.data import load_dataset
    from sslcore.methods import Batch
    from sslcore.train import build_model, resolve_device

    torch_device = resolve_device(device)
    on_cuda = torch_device.type == "cuda"
    sync = torch.cuda.synchronize if on_cuda else (lambda: None)
    dataset = load_dataset("synthetic", image_size=image_size, seed=0, n_images=n_images)
    images = dataset.splits["train"].images.to(torch_device)
    config = PretrainConfig(method=method, backbone=backbone, image_size=image_size, batch_size=batch_size)
    model = build_model(config, channels=dataset.channels, n_classes=dataset.n_classes, task=dataset.task).to(torch_device)
    if on_cuda:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    augment_config = AugmentConfig.preset("radiograph")
    generator = torch.Generator().manual_seed(0)
    random_views = torch.rand(batch_size, dataset.channels, image_size, image_size, device=torch_device)

    def optimise(batch, augment_fn) -> None:
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=on_cuda):
            loss = model.training_step(batch, augment_fn)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.on_step_end(0.5)

    def model_only() -> None:
        optimise(Batch(images=images[:batch_size], labels=None, partner_images=None),
                 lambda _: normalize(random_views))

    def end_to_end() -> None:
        index = torch.randint(len(images), (batch_size,), device=torch_device)
        optimise(Batch(images=images[index], labels=None, partner_images=None),
                 lambda x: normalize(augment(x, augment_config, generator)))

    report = {"image_size": image_size, "backbone": backbone, "method": method, "batch_size": batch_size,
              "device": str(torch_device), "environment": environment()}
    for name, step in (("model_only", model_only), ("end_to_end", end_to_end)):
        report[f"{name}_images_per_second"] = round(batch_size / timed_steps(step, 3, n_steps, sync), 1)
    report["end_to_end_over_model_only"] = round(
        report["end_to_end_images_per_second"] / report["model_only_images_per_second"], 3)
    if with_lightly:
        report["lightly_images_per_second"] = round(
            _lightly_throughput(model, optimise, dataset, batch_size, n_steps, sync), 1)
        report["end_to_end_over_lightly"] = round(
            report["end_to_end_images_per_second"] / report["lightly_images_per_second"], 2)
    return report


def _lightly_throughput(model, optimise, dataset, batch_size: int, n_steps: int, sync) -> float:
    """Images/s of the same model fed by lightly's per-image SimCLR transform in a DataLoader."""
    from lightly.transforms import SimCLRTransform
    from PIL import Image
    from sslcore.methods import Batch

    size = dataset.image_size
    transform = SimCLRTransform(input_size=size, cj_prob=0.8, cj_hue=0.0, cj_sat=0.0, random_gray_scale=0.0,
                                min_scale=0.35, normalize={"mean": [0.5], "std": [0.25]})
    images = dataset.splits["train"].images

    class Views(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i):
            picture = Image.fromarray(images[i, 0].numpy()).convert("RGB")
            first, second = transform(picture)
            return first[:1], second[:1]  # grayscale model: keep one channel

    loader = torch.utils.data.DataLoader(Views(), batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=min(8, torch.get_num_threads()), persistent_workers=True)
    device = next(model.parameters()).device
    stream = iter(loader)

    def step() -> None:
        nonlocal stream
        try:
            first, second = next(stream)
        except StopIteration:
            stream = iter(loader)
            first, second = next(stream)
        views = iter((first.to(device, non_blocking=True), second.to(device, non_blocking=True)))
        optimise(Batch(images=first, labels=None, partner_images=None), lambda _: next(views))

    return batch_size / timed_steps(step, 3, n_steps, sync)
