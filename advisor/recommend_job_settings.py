"""The recommendation run's settings, apart from the run (which imports the engine), so the
job can be built at start-up without loading scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass, field

from advisor.recommend.parameters import RecommendParameters


@dataclass(frozen=True)
class LoopSettings:
    """``rollout_share`` of a recommendation's hosts must show its change for it to be rolled
    out; its saving is measured ``verify_days`` days after (a pilot's own days instead), with
    ``resamples`` bootstrap resamples."""

    rollout_share: float = 0.9
    verify_days: int = 14
    params: RecommendParameters = field(default_factory=RecommendParameters)
    resamples: int = 200


@dataclass(frozen=True)
class RecommendSettings:
    """The run's settings: the engine's parameters and the loop's."""

    params: RecommendParameters = field(default_factory=RecommendParameters)
    loop: LoopSettings = field(default_factory=LoopSettings)
