"""The LiveKit-facing detector: protocol compatibility with livekit-agents 1.8.9 and the
prediction-future timing, on a virtual-time event loop (no real sleeping)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from livekit.agents.voice import audio_recognition
from livekit.agents.voice.turn import (
    _STREAMING_ENDPOINTING_DEFAULTS,
    TurnDetectionEvent,
    _StreamingTurnDetector,
    _StreamingTurnDetectorStream,
)
from livekit.plugins.turntaking.endpointing import (
    AdaptiveTurnDetector,
    AdaptiveTurnDetectorStream,
    CompletenessModel,
    EndpointDecision,
)
from livekit.plugins.turntaking.endpointing.detector import FRAMEWORK_QUERY_SILENCE_S

from tests.test_endpointing_model import PRIOR


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """Event loop whose clock jumps to the next timer when nothing is ready."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def _run_once(self) -> None:
        ready: Any = self._ready  # type: ignore[attr-defined]
        scheduled: Any = self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self._now = max(self._now, scheduled[0].when())
        super()._run_once()  # type: ignore[misc]


@pytest.fixture
def vloop() -> Iterator[VirtualTimeLoop]:
    loop = VirtualTimeLoop()
    try:
        yield loop
    finally:
        loop.close()


def _detector(**kw: Any) -> AdaptiveTurnDetector:
    kw.setdefault("threshold", 0.9)
    det = AdaptiveTurnDetector(completeness=CompletenessModel.load(), prior=PRIOR, **kw)
    det.prewarm()
    return det


# -- compatibility with the pinned framework -------------------------------------------


def test_pinned_framework_version() -> None:
    assert version("livekit-agents") == "1.8.9", "re-read voice/audio_recognition.py gating"


def test_satisfies_the_private_streaming_protocols() -> None:
    det = _detector()
    assert isinstance(det, _StreamingTurnDetector)
    stream = det.stream()
    assert isinstance(stream, _StreamingTurnDetectorStream)
    for name in ("predict", "cancel_inference", "flush", "push_audio", "end_input", "aclose"):
        ours = inspect.signature(getattr(AdaptiveTurnDetectorStream, name))
        theirs = inspect.signature(getattr(_StreamingTurnDetectorStream, name))
        assert list(ours.parameters) == list(theirs.parameters), name
    for name in ("unlikely_threshold", "backchannel_threshold", "supports_language", "aclose"):
        assert inspect.iscoroutinefunction(getattr(AdaptiveTurnDetectorStream, name)), name


def test_framework_gating_assumptions_hold() -> None:
    # the detector is asked after this much silence, and the session defaults for a
    # streaming detector are what endpointing_options() overrides
    assert audio_recognition.MIN_SILENCE_DURATION_MS == 200  # type: ignore[attr-defined]
    assert set(_STREAMING_ENDPOINTING_DEFAULTS) >= {"min_delay", "max_delay"}
    src = inspect.getsource(audio_recognition.AudioRecognition._run_eou_detection)
    assert "end_of_turn_probability < unlikely_threshold" in src
    assert "self._endpointing.max_delay" in src
    assert "prediction_timeout" in src
    opts = _detector(floor_s=0.1, ceiling_s=2.0).endpointing_options()
    assert opts == {"mode": "fixed", "min_delay": 0.1, "max_delay": 2.0}


# -- prediction timing on virtual time -------------------------------------------------


def test_complete_turn_resolves_early_with_commit_probability(vloop: VirtualTimeLoop) -> None:
    async def main() -> tuple[float, TurnDetectionEvent, list[EndpointDecision]]:
        det = _detector()
        decisions: list[EndpointDecision] = []
        det.on("decision", decisions.append)
        stream = det.stream()
        det.on_transcript("Yes, that sounds good to me.", is_final=True)
        t0 = vloop.time()  # 0.2 s into the silence, as the framework asks
        ev = await stream.predict()
        await stream.aclose()
        return vloop.time() - t0, ev, decisions

    waited, ev, decisions = vloop.run_until_complete(main())
    assert ev.end_of_turn_probability == 1.0
    assert decisions and waited == pytest.approx(decisions[-1].delay_s - 0.2, abs=1e-6)
    assert waited < 1.5


def test_dictation_waits_longer_and_a_late_transcript_replans(vloop: VirtualTimeLoop) -> None:
    async def run(first: str, late: str | None) -> float:
        det = _detector()
        stream = det.stream()
        det.on_transcript(first, is_final=True)
        t0 = vloop.time()
        fut = stream.predict()
        if late is not None:
            vloop.call_later(0.05, lambda: det.on_transcript(late, is_final=True))
        await fut
        await stream.aclose()
        return vloop.time() - t0

    done = vloop.run_until_complete(run("Yes, that sounds good to me.", None))
    digits = vloop.run_until_complete(run("my number is five five five two", None))
    assert digits > done
    replanned = vloop.run_until_complete(run("my number is five five five two", "Thanks."))
    assert replanned < digits


def test_speech_resuming_cancels_and_teaches_the_pause(vloop: VirtualTimeLoop) -> None:
    async def main() -> tuple[TurnDetectionEvent, list[float]]:
        det = _detector()
        stream = det.stream()
        fut = stream.predict()
        await asyncio.sleep(0.1)  # the user goes on 0.3 s into the pause
        stream.cancel_inference()
        ev = await fut
        assert det.endpointer is not None
        learnt = list(det.endpointer.pauses.pauses_s)
        stream.flush(reason="turn committed")
        await stream.aclose()
        return ev, learnt

    ev, learnt = vloop.run_until_complete(main())
    assert ev.end_of_turn_probability == 0.0
    assert learnt == [pytest.approx(0.3)]


def test_ceiling_answers_unlikely_at_once(vloop: VirtualTimeLoop) -> None:
    async def main() -> tuple[float, TurnDetectionEvent, float | None]:
        det = _detector(threshold=0.99, ceiling_s=0.5, fallback_delay_s=0.5)
        stream = det.stream()
        det.on_transcript("and um", is_final=True)
        t0 = vloop.time()
        ev = await stream.predict()
        thr = await stream.unlikely_threshold(None)
        await stream.aclose()
        return vloop.time() - t0, ev, thr

    waited, ev, thr = vloop.run_until_complete(main())
    assert waited == 0.0
    assert thr is not None and ev.end_of_turn_probability < thr


def test_commit_is_held_until_the_late_final_transcript(vloop: VirtualTimeLoop) -> None:
    # "my number is four one five" (final), a 1 s pause, then "two two three" that a stalled
    # recogniser has not transcribed yet: the commit waits for its final instead of cutting
    # the turn
    async def main(final_after_s: float | None, **kw: Any) -> tuple[float, float, int]:
        det = _detector(**kw)
        stream = det.stream()
        det.on_transcript("my number is four one five", is_final=True)
        first = stream.predict()
        await asyncio.sleep(0.8)
        stream.cancel_inference()  # the user goes on
        assert (await first).end_of_turn_probability == 0.0
        await asyncio.sleep(1.0)  # "two two three", then 0.2 s of silence
        t0 = vloop.time()
        fut = stream.predict()
        assert det.endpointer is not None
        dec = det.endpointer.decision()
        assert dec is not None
        planned = dec.commit_at_s - t0
        if final_after_s is not None:
            vloop.call_later(
                final_after_s, lambda: det.on_transcript("two two three", is_final=True)
            )
        ev = await fut
        assert ev.end_of_turn_probability == 1.0
        await stream.aclose()
        return vloop.time() - t0, planned, det.stt_waits_expired

    waited, planned, expired = vloop.run_until_complete(main(None, stt_wait_s=0.0))
    assert waited == pytest.approx(planned)  # off: the plan alone decides
    late = planned + 0.6
    waited, planned, expired = vloop.run_until_complete(main(late))
    assert waited == pytest.approx(late) and expired == 0
    waited, planned, expired = vloop.run_until_complete(main(None, stt_wait_s=3.0))
    # capped 3.0 s into the pause (predict() came 0.2 s into it), counted
    cap = 3.0 - FRAMEWORK_QUERY_SILENCE_S
    assert cap > planned and waited == pytest.approx(cap) and expired == 1
    waited, planned, expired = vloop.run_until_complete(main(None, stt_wait_s=0.3))
    assert waited == pytest.approx(planned) and expired == 1  # never before the plan


def test_missing_model_falls_back_to_fixed_delay_and_logs_once(
    vloop: VirtualTimeLoop, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    from livekit.plugins.turntaking.endpointing import model

    monkeypatch.setattr(model, "DATA_DIR", tmp_path)

    async def main() -> float:
        det = AdaptiveTurnDetector(fallback_delay_s=0.5)
        det.prewarm()
        s1 = det.stream()
        assert s1.is_fallback
        t0 = vloop.time()
        ev = await s1.predict()
        assert ev.end_of_turn_probability == 1.0
        det.prewarm()
        await s1.aclose()
        return vloop.time() - t0

    with caplog.at_level(logging.ERROR, logger="livekit.plugins.turntaking"):
        waited = vloop.run_until_complete(main())
    assert waited == pytest.approx(0.3)
    assert len([r for r in caplog.records if "unavailable" in r.message]) == 1


def test_invalid_options_name_the_range() -> None:
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        AdaptiveTurnDetector(threshold=0.0)
    with pytest.raises(ValueError, match="fallback_delay_s"):
        AdaptiveTurnDetector(floor_s=0.2, ceiling_s=1.0, fallback_delay_s=2.0)
    with pytest.raises(ValueError, match=r"stt_wait_s must be in \[0, 5"):
        AdaptiveTurnDetector(stt_wait_s=6.0)


def test_the_agents_messages_set_the_expected_digit_count() -> None:
    from livekit import rtc
    from livekit.agents.llm import ChatMessage
    from livekit.agents.voice.events import ConversationItemAddedEvent

    det = _detector()
    session: rtc.EventEmitter[str] = rtc.EventEmitter()
    det.attach(session)
    ep = det.endpointer
    assert ep is not None and ep.expected_digits is None

    def said(role: str, text: str) -> None:
        msg = ChatMessage(role=role, content=[text])  # type: ignore[arg-type]
        session.emit("conversation_item_added", ConversationItemAddedEvent(item=msg))

    said("assistant", "Please read me the six-digit code we sent you.")
    assert ep.expected_digits == 6
    said("user", "Sure, it's on the last 4 digits of the screen.")  # user words never count
    assert ep.expected_digits == 6
    said("assistant", "Thanks. Anything else?")
    assert ep.expected_digits is None


# -- the audio end-of-turn model, asked once per pause ------------------------------------


class _ScriptedAudioModel:
    """Stands for the audio end-of-turn model: answers `p` and records what it was given."""

    def __init__(self, p: float | Exception) -> None:
        self.p = p
        self.calls: list[int] = []

    def predict(self, pcm: Any) -> float:
        self.calls.append(len(pcm))
        if isinstance(self.p, Exception):
            raise self.p
        return self.p


def _frames(seconds: float, rate: int = 48_000) -> list[Any]:
    import numpy as np
    from livekit import rtc

    n = int(rate * 0.02)
    tone = (3000 * np.sin(np.arange(n) * 2 * np.pi * 220 / rate)).astype(np.int16)
    return [
        rtc.AudioFrame(tone.tobytes(), sample_rate=rate, num_channels=1, samples_per_channel=n)
        for _ in range(int(seconds / 0.02))
    ]


def _pause_with_audio(
    vloop: VirtualTimeLoop, model: Any, *, audio_s: float = 2.0, rate: int = 48_000
) -> tuple[float, list[EndpointDecision], AdaptiveTurnDetector]:
    from sim.virtual_time import InlineExecutor

    vloop.set_default_executor(InlineExecutor())

    async def main() -> tuple[float, list[EndpointDecision], AdaptiveTurnDetector]:
        det = _detector(threshold=0.95, audio_model=model)
        decisions: list[EndpointDecision] = []
        det.on("decision", decisions.append)
        stream = det.stream()
        for f in _frames(audio_s, rate):
            stream.push_audio(f)
        det.on_transcript("Yes, that sounds good to me.", is_final=True)
        t0 = vloop.time()  # 0.2 s into the silence
        ev = await stream.predict()
        assert ev.end_of_turn_probability == 1.0
        await stream.aclose()
        return vloop.time() - t0, decisions, det

    return vloop.run_until_complete(main())


def test_words_and_audio_agreeing_commit_at_once(vloop: VirtualTimeLoop) -> None:
    from livekit.plugins.turntaking.endpointing.model import AGREE_DELAY_S

    sure = _ScriptedAudioModel(0.95)
    waited, decisions, _ = _pause_with_audio(vloop, sure)
    assert sure.calls == [19_200]  # once, 1.2 s of 16 kHz audio (48 kHz resampled)
    assert decisions[-1].agreed and decisions[-1].p_audio == 0.95
    assert waited == pytest.approx(AGREE_DELAY_S - FRAMEWORK_QUERY_SILENCE_S, abs=1e-6)
    # negative control: an unsure audio model leaves the words' longer delay
    unsure = _ScriptedAudioModel(0.1)
    slow, decisions, _ = _pause_with_audio(vloop, unsure)
    assert unsure.calls == [19_200] and not decisions[-1].agreed
    assert slow > waited + 0.2
    assert slow == pytest.approx(decisions[-1].delay_s - FRAMEWORK_QUERY_SILENCE_S, abs=1e-6)


def test_a_short_window_is_sent_as_heard_and_no_audio_means_no_call(
    vloop: VirtualTimeLoop,
) -> None:
    m = _ScriptedAudioModel(0.95)
    _pause_with_audio(vloop, m, audio_s=0.5, rate=16_000)
    assert m.calls == [8_000]
    none = _ScriptedAudioModel(0.95)
    _, decisions, _ = _pause_with_audio(vloop, none, audio_s=0.0)
    assert none.calls == [] and not decisions[-1].agreed


def test_a_failing_audio_model_logs_once_and_words_decide(
    vloop: VirtualTimeLoop, caplog: pytest.LogCaptureFixture
) -> None:
    broken = _ScriptedAudioModel(RuntimeError("native library crashed"))
    with caplog.at_level(logging.WARNING, logger="livekit.plugins.turntaking"):
        waited, decisions, det = _pause_with_audio(vloop, broken)
    assert broken.calls == [19_200] and det.audio_model is None
    assert not decisions[-1].agreed and waited > 0.5
    msgs = [r.message for r in caplog.records if "audio end-of-turn" in r.message]
    assert len(msgs) == 1 and "native library crashed" in msgs[0]


def test_audio_model_option_is_checked() -> None:
    with pytest.raises(TypeError, match="audio_model must be True, False"):
        AdaptiveTurnDetector(audio_model="v1-mini")  # type: ignore[arg-type]
    assert AdaptiveTurnDetector(audio_model=False).audio_model is None


def test_the_shipped_audio_model_runs_offline() -> None:
    import numpy as np
    from livekit.plugins.turntaking.endpointing.audio import WINDOW_SAMPLES, LocalEotModel

    model = AdaptiveTurnDetector().audio_model
    assert isinstance(model, LocalEotModel)
    p = model.predict(np.zeros(WINDOW_SAMPLES, dtype=np.int16))
    assert 0.0 <= p <= 1.0


def test_a_stream_without_prewarm_never_loads_the_audio_model_on_the_loop(
    vloop: VirtualTimeLoop,
) -> None:
    from livekit.plugins.turntaking.endpointing.audio import LocalEotModel

    class Counting(LocalEotModel):
        loads = 0

        def load(self) -> None:
            Counting.loads += 1
            super().load()

    async def main() -> None:
        det = AdaptiveTurnDetector(
            completeness=CompletenessModel.load(), prior=PRIOR, audio_model=Counting()
        )
        stream = det.stream()  # the framework opens it on the event loop
        assert det.endpointer is not None and Counting.loads == 0
        await stream.aclose()
        det.prewarm()  # the documented place: loads it
        assert Counting.loads == 1

    vloop.run_until_complete(main())
