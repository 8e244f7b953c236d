"""sslcore: the engine of MedSSL Explorer.

Self-supervised learning for medical image classification: datasets, on-device augmentations,
backbones, SSL methods, training, evaluation, a run store, and the study catalogue of the
systematic reviews. It never imports streamlit; the app's pages only call it.
"""

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str]):
    """A package's ``__getattr__`` and ``__all__`` that import each exported name from its module on
    first use, so that importing the package (for its CLI or its plain-data modules) stays light.

    Args:
        package: the package's ``__name__``.
        exports: name -> module that defines it.
    """
    import importlib

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__, sorted(exports)
