"""The framework's barge-in rule as replayed by the `livekit-vad` / `livekit-min-words-2`
baselines, on literal timelines (stream seconds), and the shared VAD timeline's CPU charge."""

import pytest

from bench.evaluation.baselines.livekit_overlap import first_firing
from bench.evaluation.types import TranscriptEvent

# One VAD inference every 0.1 s; speech has lasted (t - 0.1) s at stream time t.
FRAMES = [(round(0.1 * k, 1), round(max(0.0, 0.1 * (k - 1)), 1)) for k in range(1, 21)]


def _words(text: str) -> int:
    return len(text.split())


def _ev(at_s: float, text: str, *, final: bool = False) -> TranscriptEvent:
    return TranscriptEvent(at_s=at_s, text=text, is_final=final, audio_end_s=at_s)


def test_vad_only_fires_when_speech_lasts_min_duration() -> None:
    fired = first_firing(
        frames=FRAMES, transcript=[], min_words=0, min_duration_s=0.5, word_count=_words
    )
    assert fired == 0.6


def test_min_words_waits_for_two_words_in_the_interim() -> None:
    transcript = [_ev(0.35, "uh"), _ev(0.95, "wait stop")]
    fired = first_firing(
        frames=FRAMES, transcript=transcript, min_words=2, min_duration_s=0.5, word_count=_words
    )
    # 0.6 s has enough speech but one word; the two-word interim is seen at the 1.0 s frame.
    assert fired == 1.0


def test_one_word_backchannel_never_fires_with_min_words_two() -> None:
    transcript = [_ev(0.4, "uh"), _ev(1.2, "uh", final=True)]
    fired = first_firing(
        frames=FRAMES, transcript=transcript, min_words=2, min_duration_s=0.5, word_count=_words
    )
    assert fired is None


def test_a_final_is_checked_before_it_joins_the_transcript_as_in_the_framework() -> None:
    # audio_recognition.py calls on_final_transcript before appending the final, so a lone
    # final "wait stop" does not fire by itself; the next event (or frame) sees both words.
    short = [(0.1, 0.0), (0.2, 0.1)]
    lone = [_ev(1.0, "wait stop", final=True)]
    assert (
        first_firing(
            frames=short, transcript=lone, min_words=2, min_duration_s=0.5, word_count=_words
        )
        is None
    )
    follow = [*lone, _ev(1.3, "", final=False), _ev(1.4, "please", final=True)]
    assert (
        first_firing(
            frames=short, transcript=follow, min_words=2, min_duration_s=0.5, word_count=_words
        )
        == 1.4
    )


def test_a_shared_vad_timeline_is_charged_to_every_system_that_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    import numpy as np

    from bench.evaluation.baselines import vad_timeline as vt
    from bench.evaluation.runners import SystemRun

    computed: list[int] = []

    async def burn(audio: object) -> tuple[list[object], list[object]]:
        computed.append(1)
        t0 = time.process_time()
        while time.process_time() - t0 < 0.05:  # CPU, not a sleep: it is what gets charged
            pass
        return [], []

    monkeypatch.setattr(vt, "_run_stream", burn)
    vt.clear_cache()
    audio = np.zeros(16000, dtype=np.float32)
    runs = [SystemRun(name=n, system=None) for n in ("a", "b", "c")]
    for run in runs:
        run.timed("item", 1.0, lambda _m: None, vt.vad_timeline, audio)
    assert len(computed) == 1
    for run in runs:
        assert run.cpu_s >= 0.05 and run.audio_s == 1.0
    vt.clear_cache()
