"""The overlap replay's audible yield: the duck and the stop as heard behind the arbiter's
paced output, on literal traces."""

from __future__ import annotations

import pytest
from livekit.plugins.turntaking.arbiter.arbiter import DEFAULT_DUCK_DB
from livekit.plugins.turntaking.arbiter.model import DUCK_RELEASE_S, AudioFeatures
from livekit.plugins.turntaking.arbiter.playout import (
    AUDIBLE_DROP_DB,
    DEFAULT_OUTPUT_LEAD_S,
    DUCK_RAMP_S,
)

from bench.evaluation.ours_overlap import ArbiterOverlapSystem, OverlapTrace

VOICED = AudioFeatures(level_dbfs=-20.0, zcr=0.1, duration_s=0.02)
QUIET = AudioFeatures(level_dbfs=-80.0, zcr=0.5, duration_s=0.02)
HEARD_DUCK_S = DEFAULT_OUTPUT_LEAD_S + DUCK_RAMP_S * AUDIBLE_DROP_DB / DEFAULT_DUCK_DB


def _trace(voiced_s: float, text: str, *, onset_s: float = 1.0) -> OverlapTrace:
    """The agent talks; the user's voice from `onset_s` for `voiced_s`, then silence; the
    final transcript `text` 0.3 s after the voice ends."""
    events: list[tuple[float, str, object]] = [(onset_s, "start", onset_s)]
    end = onset_s + voiced_s
    t = onset_s
    while t < end + 1.0:
        t = round(t + 0.02, 6)
        events.append((t, "frame", VOICED if t <= end + 1e-9 else QUIET))
        if abs(t - (end + 0.3)) < 1e-6:
            events.append((t, "end", t))
            events.append((t, "text", (text, True)))
    return OverlapTrace(tuple(events), onset_s, "so the next step is to upload the file", t)


@pytest.fixture(scope="module")
def system() -> ArbiterOverlapSystem:
    return ArbiterOverlapSystem(use_onset_model=False)


def test_a_backchannel_is_ducked_from_its_first_voiced_frame_until_it_falls_silent(
    system: ArbiterOverlapSystem,
) -> None:
    dec = system.replay(_trace(0.3, "Uh-huh."), system.params)
    assert dec.decision == "backchannel" and dec.stopped_at_s is None
    assert dec.yield_at_s == pytest.approx(0.02 + HEARD_DUCK_S)
    # ducked from the first frame to the release after the last one (both heard a lead late)
    assert dec.duck_s == pytest.approx(0.3 - 0.02 + DUCK_RELEASE_S - DUCK_RAMP_S * 10 / 14)


def test_an_interruption_is_heard_ducked_before_it_is_heard_stopped(
    system: ArbiterOverlapSystem,
) -> None:
    dec = system.replay(_trace(2.0, "Wait, no, the blue one."), system.params)
    assert dec.decision == "interruption"
    assert dec.yield_at_s == pytest.approx(0.02 + HEARD_DUCK_S)
    assert dec.duck_s is not None and dec.duck_s > 0.3
