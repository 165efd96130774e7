"""Recommendations: from findings, inventory and the catalog to ranked, costed changes.

Pure, like advisor.analysis: no SQL, no HTTP, ``now`` passed in. The engine
(``engine.recommend``) runs ``facts`` (the fleet as the engine reads it), ``remedies``
(``software``, ``hardware``: what could fix each problem, as ``remedy`` values), ``evidence``
and ``benefit`` (what a change saves, from hosts that already have it), ``pricing`` (what it
costs), ``ranking`` (risk-adjusted net benefit), ``pilot`` (where evidence is weak) and
``explain`` (the paragraph and the JSON document); ``vendor`` asks the catalog. ``impact`` turns
a finding into seconds, hours and money; ``budget`` finds the set of recommendations a budget
buys. Importing this package imports none of them.
"""
