"""Recommendations: from findings, inventory and the catalog to ranked, costed changes.

Pure, like advisor.analysis: no SQL, no HTTP, ``now`` passed in. Modules: ``impact`` (a
finding in seconds, hours and money), ``budget`` (the set of recommendations a budget buys).
"""
