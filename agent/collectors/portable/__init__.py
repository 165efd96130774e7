"""The resource collectors for machines without /proc (Windows, macOS), built on psutil.

Same collector interface, metric names, units and labels as the /proc set, so the advisor and
the dashboards cannot tell them apart. What psutil cannot measure is left out rather than
reported as zero: pressure stall information (Linux only), major page faults, swap-in/out on
Windows, disk busy time where the system does not count it. docs/platforms.md has the table.

Nothing here is imported on Linux: psutil costs about 1.4 MB of the agent's RSS budget.
"""
