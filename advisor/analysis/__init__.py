"""Degradation detection: pure analysis of load-time series (no I/O; the store feeds it).

Modules, each one method:

- ``changepoints``: where one series' level shifted (ruptures PELT on a rank cost) and by
  how much, with intervals;
- ``trends``: slow drifts (Theil-Sen slope, Mann-Kendall test);
- ``boundaries``: before/after a known version change, pooled over the hosts that moved
  (Mann-Whitney U, bootstrap intervals);
- ``fdr``: Benjamini-Hochberg false discovery control across many series;
- ``effects``: shift estimates and bootstrap intervals shared by the above;
- ``series_csv``: one series from ``t,value`` CSV text (for ``fleetsight-advisor detect``).

Inputs are plain arrays and dataclasses, and the current time is passed in as ``now``.
docs/analysis.md explains the methods and their parameters.
"""

from __future__ import annotations
