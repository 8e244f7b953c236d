"""Entry point for ``python -m sslcore``."""

import sys

from sslcore.training.runtime import tune_allocator

tune_allocator()  # before torch allocates anything: see sslcore.training.runtime

from sslcore.cli import main  # noqa: E402

sys.exit(main())
