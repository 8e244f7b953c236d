"""Entry point for ``python -m sslcore``."""

import sys

from sslcore.cli import main

sys.exit(main())
