"""Alembic migrations of the advisor store; run through ``advisor.store.migrate``."""
