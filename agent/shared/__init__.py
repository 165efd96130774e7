"""What the agent and the advisor share, and the only part of the agent the advisor imports.

- :mod:`agent.shared.wire`: the wire format (batches, paths, headers, the inventory digest),
  defined once; the agent encodes it, the advisor validates against the same classes.
- :mod:`agent.shared.wire_limits`: the limits on its text, which the agent cleans to and the
  advisor refuses beyond.
- :mod:`agent.shared.metricdefs`: the names, units and labels of the agent's series.
- :mod:`agent.shared.backoff`: retry delays and ``Retry-After``.
- :mod:`agent.shared.cli_options`: global options accepted after a command as before it.

It lives in the agent's package because the agent is the small install (``pip install
.[agent]``) and the advisor's brings it in anyway. Nothing here imports the rest of the agent
or anything of the advisor, and each program keeps its own exception tree: the rule is
enforced by tests/test_import_rules.py.
"""
