"""bench.echo_check on a literal recording built from the repo's clips: the replay counts
false echo on a microphone without echo, and gating of a synthetic echo added to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from livekit.plugins.turntaking.arbiter.echo import EchoGate, EchoVerdict

from bench.echo_check import (
    Recording,
    check_echo,
    check_no_echo,
    main,
    played_reference,
)
from sim.lines import AGENT_LINES
from sim.scenes import SCENES, user_clip
from sim.tts import TTS_SAMPLE_RATE_HZ, ClipLibrary, ClipTTS

MIC_RATE = 16_000
FRAME_S = 0.02


def _recording(user_at_s: float) -> Recording:
    """The agent's opening as played (20 ms pushes) and a microphone hearing only the user,
    who says "wait, stop" at `user_at_s`; frames are classified from 0.1 s before it."""
    ref = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)).render(SCENES["backchannel"].opening)
    rec = Recording("literal")
    n_ref = int(FRAME_S * TTS_SAMPLE_RATE_HZ)
    for i in range(0, ref.size, n_ref):
        rec.calls.append(("ref", ref[i : i + n_ref], TTS_SAMPLE_RATE_HZ, i / TTS_SAMPLE_RATE_HZ))
    talk = user_clip("wait_stop_tuesday", MIC_RATE)
    mic = np.zeros(int(6.0 * MIC_RATE), np.float32)
    i0 = int(user_at_s * MIC_RATE)
    mic[i0 : i0 + talk.size] = talk[: mic.size - i0]
    n = int(FRAME_S * MIC_RATE)
    for i in range(0, mic.size - n + 1, n):
        rec.calls.append(
            ("in", mic[i : i + n], MIC_RATE, i / MIC_RATE, i / MIC_RATE >= user_at_s - 0.1)
        )
    return rec


class AlwaysEcho:
    """A gate that calls every frame echo: what the check must catch."""

    def push_reference(self, samples: Any, sample_rate_hz: int, start_s: float) -> None:
        pass

    def clear_reference(self, after_s: float) -> None:
        pass

    def push_input(
        self, samples: Any, sample_rate_hz: int, start_s: float, *, classify: bool = True
    ) -> EchoVerdict:
        return EchoVerdict(True, 0.0, 1.0)


def test_no_echo_replay_counts_user_frames_called_echo() -> None:
    # at 2.5 s the gate before the syllable check called 6 of these user frames echo, one
    # of them in the first 0.5 s
    recs = [_recording(2.5)]
    ok = check_no_echo(recs, EchoGate)
    assert ok.episodes == 1 and ok.user_frames >= 50
    assert ok.called_echo == 0 and ok.early_hit == 0
    bad = check_no_echo(recs, AlwaysEcho)
    assert bad.called_echo == bad.user_frames == ok.user_frames and bad.early_hit == 1


def test_echo_replay_gates_the_agents_voice_and_not_the_user() -> None:
    recs = [_recording(2.5)]
    r = check_echo(recs, EchoGate, 0.06, -20.0)
    assert r.echo_frames >= 90 and r.user_frames >= 30
    # what is not gated: the first hops of the agent's voice, and frames whose window
    # still holds the user's speech
    assert r.echo_gated / r.echo_frames >= 0.8
    assert r.user_gated / r.user_frames <= 0.2
    bad = check_echo(recs, AlwaysEcho, 0.06, -20.0)
    assert bad.user_gated == bad.user_frames


def test_played_reference_leaves_out_what_a_clear_dropped() -> None:
    rec = Recording("clear")
    rec.calls.append(("ref", np.ones(24_000, np.float32), 24_000, 1.0))  # plays 1.0-2.0 s
    rec.calls.append(("clear", 1.5))
    y = played_reference(rec, 16_000, 0.0, 48_000)
    assert y[16_000:24_000].min() == pytest.approx(1.0)
    assert not y[24_100:].any() and not y[:15_900].any()


def test_refuses_a_test_manifest(tmp_path: Path) -> None:
    assert main(["--manifest", str(tmp_path / "test-clean.jsonl")]) == 2
