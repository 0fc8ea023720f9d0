"""Stage 4 of the arbiter's operating point: the resume threshold, on literal replays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from bench.train_arbiter import RECALL_TOLERANCE_ITEMS, choose_resume_threshold
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


def test_the_threshold_saves_backchannels_but_never_resumes_over_an_interruption() -> None:
    # 200 interruptions with confident words and one "So..." (0.24); backchannels whose
    # words are unlikely interruptions (0.07, 0.49)
    traces = [("interruption", _Paused(0.9))] * 200 + [("interruption", _Paused(0.24))]
    traces += [("backchannel", _Paused(0.07)), ("backchannel", _Paused(0.49))]
    sel = _choose(traces)
    # 0.5 would resume both backchannels but drop "So...", which is within the recall
    # tolerance of the other stages; here no interruption may be lost: 0.1 saves one
    assert RECALL_TOLERANCE_ITEMS >= 1
    assert sel["chosen"] == 0.1
    rows = cast(list[dict[str, float]], sel["rows"])
    assert [r["interruptions_lost"] for r in rows][:4] == [0, 0, 0, 1]
    assert rows[0]["stood_items"] == 2 and rows[1]["stood_items"] == 1


def test_without_a_saving_the_word_list_alone_is_kept() -> None:
    only_doubt = [("interruption", _Paused(0.05))] * 50 + [("backchannel", _Paused(0.05))]
    assert _choose(only_doubt)["chosen"] == 0.0
    confident = [("interruption", _Paused(0.9))] * 50 + [("backchannel", _Paused(0.8))]
    assert _choose(confident)["chosen"] == 0.0
