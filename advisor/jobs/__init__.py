"""Scheduled jobs of the advisor: rollups, retention, the analysis and the recommendations,
one runner per job across advisors.

- :mod:`advisor.jobs.names`: their names (light: the command line's ``--help`` reads them);
- :mod:`advisor.jobs.tasks`: the jobs and their runners, built from the configuration;
- :mod:`advisor.jobs.analysis` and :mod:`advisor.jobs.recommend`: the analysis (in parts) and
  the recommendation run that follows each analysis;
- :mod:`advisor.jobs.serving`: the jobs of ``serve``, started and stopped with the app;
- :mod:`advisor.jobs.runner`: a runner claims the job in the database (lease and tick), runs
  it, records how it went, backs off after a failure and never raises;
- :mod:`advisor.jobs.scheduler`: APScheduler 3 ticks the runners inside ``serve``;
- :mod:`advisor.cli.jobs`: ``fleetsight-advisor jobs run|status``;
- :mod:`advisor.jobs.metrics`: what /metrics shows about them.

The jobs work on the store's interfaces (advisor.store.analysis_data.Upkeep and FleetFrames,
advisor.store.findings.Findings, advisor.store.job_state.JobLeases); the SQL lives there.
"""
