"""Training: the pretraining config, the one optimisation step, the pretraining loop and checkpoints.

Names are imported on first use, so that the CLI can read :class:`PretrainConfig` and
:data:`DEVICES` without importing torch (``python -m sslcore --help`` stays fast).
"""

from sslcore import lazy_exports

_EXPORTS = {
    "DEVICES": "sslcore.training.config",
    "PretrainConfig": "sslcore.training.config",
    "resolve_device": "sslcore.training.devices",
    "Trainer": "sslcore.training.step",
    "lr_at": "sslcore.training.step",
    "timed_steps": "sslcore.training.step",
    "Progress": "sslcore.training.loop",
    "PretrainResult": "sslcore.training.loop",
    "TrainingError": "sslcore.training.loop",
    "build_model": "sslcore.training.loop",
    "load_for_config": "sslcore.training.loop",
    "pretrain": "sslcore.training.loop",
    "CheckpointError": "sslcore.training.checkpoint",
    "load_checkpoint": "sslcore.training.checkpoint",
    "load_pretrained": "sslcore.training.checkpoint",
    "save_checkpoint": "sslcore.training.checkpoint",
}
__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
