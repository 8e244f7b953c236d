"""Experiments: their configuration, the named presets, ``run_experiment`` (pretrain, then the
label-efficiency sweep), the duration estimate, the benchmarks, and their commands.

Import the modules themselves (``sslcore.experiments.runner`` ...): this package stays light so that
the CLI and the config classes load without torch.
"""
