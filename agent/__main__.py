"""``python -m agent`` is ``fleetsight-agent``."""

from __future__ import annotations

import sys

from agent.cli import main

sys.exit(main())
