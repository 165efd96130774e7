"""What the agent and the advisor share, and the only part of the agent the advisor imports.

- :mod:`agent.shared.wire`: the wire format (batches, paths, headers, the inventory digest),
  defined once; the agent encodes it, the advisor validates against the same classes.
- :mod:`agent.shared.wire_limits`: the limits on its text, which the agent cleans to and the
  advisor refuses beyond.
- :mod:`agent.shared.metricdefs`: the names, units and labels of the agent's series.
- :mod:`agent.shared.backoff`: retry delays and ``Retry-After``.
- :mod:`agent.shared.cli_options`: global options accepted after a command as before it.
- :mod:`agent.shared.config_values`: the config files' value converters (durations, sizes,
  addresses, ...), so both programs read a value the same way.
- :mod:`agent.shared.config_loader`: the generic TOML loader (schema dataclasses, environment
  overrides, errors naming file, line and key) each program builds its settings with.
- :mod:`agent.shared.errors`: what the converters and the loader raise; each program re-raises
  the loader's ``ConfigFileError`` as its own ``ConfigError``.

It lives in the agent's package because the agent is the small install (``pip install
.[agent]``) and the advisor's brings it in anyway. Nothing here imports the rest of the agent
or anything of the advisor, and each program keeps its own exception tree: the rule is
enforced by tests/test_import_rules.py.
"""
