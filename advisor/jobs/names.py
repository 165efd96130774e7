"""The names of the advisor's scheduled jobs: what ``jobs run`` accepts and ``jobs status``
lists, and the keys of advisor.jobs.tasks.JOB_TABLES.

A module of its own, importing nothing, so the command line can offer them in ``--help``
without loading the jobs (and with them the store, APScheduler and Starlette).
"""

from __future__ import annotations

from typing import Final

ANALYSIS: Final = "analysis"
RECOMMEND: Final = "recommend"
RETENTION: Final = "retention"
ROLLUP: Final = "rollup"
JOB_NAMES: Final = (ANALYSIS, RECOMMEND, RETENTION, ROLLUP)
