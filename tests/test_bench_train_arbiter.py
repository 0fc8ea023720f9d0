"""Stage 4 of the arbiter's operating point: the resume threshold, on literal replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from bench.train_arbiter import RECALL_TOLERANCE, choose_resume_threshold
from bench.types import OverlapDecision
from plugins.arbiter.model import ArbiterParams


@dataclass(frozen=True)
class _Paused:
    """A paused overlap whose settled words have P(interruption) `p_words`."""

    p_words: float


class _Probe:
    """Replays a `_Paused` trace: the words resume the agent under the threshold."""

    def replay(self, tr: _Paused, params: ArbiterParams) -> OverlapDecision:
        if tr.p_words < params.resume_threshold:
            return OverlapDecision("backchannel", 1.0, tr.p_words, stopped_at_s=0.2)
        return OverlapDecision("interruption", 1.0, tr.p_words, stopped_at_s=0.2)


def _choose(traces: list[tuple[str, _Paused]]) -> dict[str, object]:
    return choose_resume_threshold(
        cast(Any, _Probe()), cast(Any, traces), ArbiterParams(confirm_audio_stops=True)
    )


def test_the_threshold_saves_backchannels_while_recall_holds() -> None:
    # 200 interruptions with confident words, one "So..." (0.24); backchannels at 0.07, 0.49
    traces = [("interruption", _Paused(0.9))] * 200 + [("interruption", _Paused(0.24))]
    traces += [("backchannel", _Paused(0.07)), ("backchannel", _Paused(0.49))]
    sel = _choose(traces)
    # 0.5 resumes both backchannels and loses "So...": 1 of 201 is within the tolerance
    assert 1 / 201 < RECALL_TOLERANCE
    assert sel["chosen"] == 0.5
    rows = cast(list[dict[str, float]], sel["rows"])
    assert rows[0]["stood_items"] == 2 and rows[0]["resume_threshold"] == 0.0


def test_a_threshold_that_costs_recall_is_not_chosen() -> None:
    # every interruption's words are doubtful (0.35): resuming on them loses them all
    traces = [("interruption", _Paused(0.35))] * 50 + [("backchannel", _Paused(0.07))]
    assert _choose(traces)["chosen"] == 0.1  # saves the backchannel, keeps every interruption
    only_doubt = [("interruption", _Paused(0.05))] * 50 + [("backchannel", _Paused(0.05))]
    assert _choose(only_doubt)["chosen"] == 0.0
