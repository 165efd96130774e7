"""Tests of the advisor's HTTP API (advisor/api)."""
