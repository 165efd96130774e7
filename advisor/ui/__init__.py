"""The advisor's web interface for people: server-rendered pages behind a login.

:func:`advisor.ui.app.create_ui` builds it; the advisor mounts it at /ui. Local users and
roles live in the store (advisor.store.users); ``fleetsight-advisor user create`` makes the
first admin; docs/ui.md is the guide. Importing this package imports nothing else (the CLI
uses :mod:`advisor.ui.passwords` without the web stack).
"""
