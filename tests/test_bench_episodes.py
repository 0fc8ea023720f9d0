"""`bench session`'s episodes through a real AgentSession (scripted STT words, real Silero
VAD), and the benchmark-only stack they run beside the harness's.

Logic tests run on virtual time; one runs in real time to check the measured latency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import numpy as np
import pytest
from livekit.agents import inference
from livekit.plugins import silero

from bench.evaluation import episodes
from bench.evaluation.episodes import EpisodeResult, EpisodeRunner, _with_room_bed
from bench.evaluation.stacks import BENCH_STACKS, MIN_WORDS_2, STACK_NAMES, session_stack
from sim import stacks
from sim.audio_io import ROOM_QUEUE_S
from sim.fake_stt import ScriptedSTT
from sim.harness import SimHarness
from sim.scenes import user_clip
from sim.virtual_time import InlineExecutor, run_virtual

AGENT_TEXT = "so the next step is to upload the file and then"
LEAD_SILENCE_S = 0.4
SPEECH = "Wait, stop, I meant Tuesday."


def _audio(name: str) -> np.ndarray:
    pad = np.zeros(int(LEAD_SILENCE_S * 16_000), dtype=np.float32)
    return np.concatenate([pad, user_clip(name)])


async def _episode(
    words: str, clip: str, stack: str, *, virtual: bool, close_timeout_s: float | None = None
) -> EpisodeResult:
    vad = inference.VAD(executor=InlineExecutor()) if virtual else silero.VAD.load()
    runner = EpisodeRunner(
        stt=ScriptedSTT([words]), vad=vad, close_transcript_timeout_s=close_timeout_s
    )
    return await runner.run(
        agent_text=AGENT_TEXT,
        user_audio=_audio(clip),
        user_sample_rate=16_000,
        onset_s=LEAD_SILENCE_S,
        stack=stack,
    )


def test_vad_barge_in_stops_the_agent_for_a_backchannel() -> None:
    res = run_virtual(_episode("Uh huh.", "uh_huh", "livekit-vad", virtual=True))
    assert res.agent_stopped and res.decision == "interruption"
    # VAD barge-in after 0.5 s of speech (+ the VAD's own frames)
    assert res.stop_latency_s is not None and 0.5 <= res.stop_latency_s < 0.8
    # a listener hears it after what the room's output had queued
    assert res.yield_latency_s == res.heard_stop_latency_s
    assert res.heard_stop_latency_s is not None
    assert 0.0 <= res.heard_stop_latency_s - res.stop_latency_s <= ROOM_QUEUE_S + 1e-9
    assert not res.ducked and res.duck_s is None
    assert res.user_turn_committed and res.llm_called and res.reply_spoken
    assert res.transcripts == ["Uh huh."]


async def _later(episode: Coroutine[Any, Any, EpisodeResult]) -> EpisodeResult:
    # an episode late in a long benchmark run: the loop's clock is far from the harness's
    await asyncio.sleep(1000.0)
    return await episode


def test_the_arbiter_ducks_for_a_backchannel_and_ducks_then_stops_for_an_interruption() -> None:
    bc = run_virtual(_later(_episode("Uh huh.", "uh_huh", "ours", virtual=True)))
    assert not bc.agent_stopped and bc.ducked
    assert bc.yield_latency_s is not None and bc.yield_latency_s <= 0.3
    assert bc.duck_s is not None and 0.1 < bc.duck_s <= 0.7
    assert not bc.user_turn_committed and not bc.llm_called
    it = run_virtual(_later(_episode(SPEECH, "wait_stop_tuesday", "ours", virtual=True)))
    assert it.agent_stopped and it.ducked
    assert it.yield_latency_s is not None and it.heard_stop_latency_s is not None
    assert it.yield_latency_s <= 0.3  # heard softening before the stop
    assert it.yield_latency_s < it.heard_stop_latency_s
    assert it.user_turn_committed and it.reply_spoken


def test_min_words_2_keeps_talking_through_a_one_word_backchannel() -> None:
    res = run_virtual(_episode("Yeah.", "uh_huh", "livekit-min-words-2", virtual=True))
    assert not res.agent_stopped and res.decision == "backchannel"
    assert res.stop_latency_s is None and res.yield_latency_s is None
    assert not res.reply_spoken


def test_the_benchmark_only_stack_is_the_framework_waiting_for_two_words() -> None:
    setup = session_stack(MIN_WORDS_2)
    assert isinstance(setup, stacks.StackSetup) and setup.name == MIN_WORDS_2
    framework = stacks.configure_stack("livekit-vad")
    assert setup.turn_handling["interruption"] == {
        **framework.turn_handling["interruption"],
        "min_words": 2,
    }
    assert setup.turn_handling["turn_detection"] == framework.turn_handling["turn_detection"]
    # the harness's own stacks pass by name; every name is one or the other, once
    assert session_stack("ours") == "ours"
    assert sorted(STACK_NAMES) == sorted((*stacks.STACK_NAMES, *BENCH_STACKS))
    with pytest.raises(ValueError, match="min_words must be >= 0"):
        stacks.framework_stack("x", min_words=-1)


@pytest.mark.parametrize("close_timeout_s", [None, 0.0])
def test_the_result_is_read_before_the_session_closes(
    monkeypatch: pytest.MonkeyPatch, close_timeout_s: float | None
) -> None:
    seen: list[tuple[str, float]] = []
    read_result = episodes.episode_result
    close = SimHarness.aclose

    def spy_result(h: SimHarness, *args: float) -> EpisodeResult:
        seen.append(("result", h.clock.now()))
        return read_result(h, *args)

    async def spy_close(h: SimHarness) -> None:
        seen.append(("close timeout", h.session._opts.session_close_transcript_timeout))
        t0 = h.clock.now()
        await close(h)
        seen.append(("closed after", h.clock.now() - t0))

    monkeypatch.setattr(episodes, "episode_result", spy_result)
    monkeypatch.setattr(SimHarness, "aclose", spy_close)
    res = run_virtual(
        _episode(
            "Wait, stop, I meant Tuesday.",
            "wait_stop_tuesday",
            "livekit-vad",
            virtual=True,
            close_timeout_s=close_timeout_s,
        )
    )
    assert res.agent_stopped
    assert [k for k, _ in seen] == ["result", "close timeout", "closed after"]
    if close_timeout_s is None:
        # the framework's default: closing waits 2 s for a transcript nobody reads
        assert seen[1][1] == 2.0 and seen[2][1] >= 1.9
    else:
        assert seen[1][1] == 0.0 and seen[2][1] < 0.1


async def test_real_time_episode_measures_the_stop_latency() -> None:
    res = await _episode(
        "Wait, stop, I meant Tuesday.", "wait_stop_tuesday", "livekit-vad", virtual=False
    )
    assert res.agent_stopped
    assert res.stop_latency_s is not None and 0.4 < res.stop_latency_s < 1.5
    assert res.user_turn_committed


async def test_episode_rejects_bad_input() -> None:
    runner = EpisodeRunner(stt=ScriptedSTT([]), vad=silero.VAD.load())
    audio = _audio("uh_huh")
    with pytest.raises(ValueError, match="onset_s"):
        await runner.run(agent_text="x", user_audio=audio, user_sample_rate=16_000, onset_s=99.0)
    with pytest.raises(ValueError, match="unknown stack"):
        await runner.run(
            agent_text="x", user_audio=audio, user_sample_rate=16_000, onset_s=0.1, stack="nope"
        )
    with pytest.raises(ValueError, match="max_lead_s"):
        EpisodeRunner(max_lead_s=0.1)
    with pytest.raises(ValueError, match="close_transcript_timeout_s"):
        EpisodeRunner(close_transcript_timeout_s=-1.0)


def test_the_rooms_own_sound_is_looped_in_front_of_the_clip() -> None:
    rate = 100
    audio = np.concatenate([np.arange(1, 51, dtype=np.float32), np.full(30, 9.0, np.float32)])
    out, bed_s = _with_room_bed(audio, rate, onset_s=0.5, room_s=1.0)
    assert bed_s == pytest.approx(1.0)
    # the first 0.4 s (the room, up to the guard before the onset at 0.5 s) looped for 1 s
    assert out[:100].tolist() == [float(1 + k % 40) for k in range(100)]
    assert np.array_equal(out[100:], audio)
    same, none_s = _with_room_bed(audio, rate, onset_s=0.05, room_s=1.0)  # no room to loop
    assert same is audio and none_s == 0.0
