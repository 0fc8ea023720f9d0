"""Echo gate on literal signals: the agent's own voice coming back is echo at any lag in
range; silence, a noise burst over a silent reference and a user talking over the echo
(double talk) are not. Plus the text check and the decider's use of the verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from livekit.plugins.turntaking.arbiter import (
    ArbiterDecider,
    ArbiterParams,
    ArbiterState,
    TextModel,
)
from livekit.plugins.turntaking.arbiter.echo import EchoGate, EchoVerdict, transcript_is_echo
from livekit.plugins.turntaking.arbiter.model import AudioFeatures

from sim.audio import load_clip
from sim.lines import AGENT_LINES
from sim.scenes import SCENES, user_clip
from sim.tts import TTS_SAMPLE_RATE_HZ, ClipLibrary, ClipTTS

Samples = npt.NDArray[np.float32]
REF_RATE = TTS_SAMPLE_RATE_HZ
MIC_RATE = 16_000
FRAME_S = 0.02
FIXTURES = Path(__file__).parent / "fixtures" / "sim"


def _speechlike(seed: int, seconds: float, rate: int, f0_hz: float) -> Samples:
    """Syllables of a harmonic stack (random lengths and gaps), peak about 0.25."""
    rng = np.random.default_rng(seed)
    out: list[Samples] = []
    total = 0
    while total < seconds * rate:
        n = int(rng.uniform(0.12, 0.3) * rate)
        t = np.arange(n) / rate
        f0 = f0_hz * rng.uniform(0.85, 1.15)
        wave = sum(np.sin(2 * np.pi * f0 * k * t) / k**1.2 for k in range(1, 12))
        syl = wave * np.sin(np.pi * np.arange(n) / n) ** 0.6
        gap = np.zeros(int(rng.uniform(0.03, 0.25) * rate))
        out += [(0.25 * syl / np.max(np.abs(syl))).astype(np.float32), gap.astype(np.float32)]
        total += n + gap.size
    return np.concatenate(out)[: int(seconds * rate)].astype(np.float32)


def _resample(x: Samples, src: int, dst: int) -> Samples:
    n = int(x.size * dst / src)
    return np.interp(np.arange(n) * src / dst, np.arange(x.size), x).astype(np.float32)


def _delay(x: Samples, lag_s: float, rate: int, gain_db: float) -> Samples:
    d = int(round(lag_s * rate))
    y = np.concatenate([np.zeros(d, np.float32), x])[: x.size]
    return (y * 10 ** (gain_db / 20)).astype(np.float32)


def _queue_reference(gate: EchoGate, ref: Samples) -> None:
    # the whole reference is queued ahead of playout, in 20 ms frames
    n_ref = int(FRAME_S * REF_RATE)
    for i in range(0, ref.size, n_ref):
        gate.push_reference(ref[i : i + n_ref], REF_RATE, i / REF_RATE)


def _run(gate: EchoGate, ref: Samples, mic: Samples) -> list[EchoVerdict]:
    _queue_reference(gate, ref)
    n = int(FRAME_S * MIC_RATE)
    return [gate.push_input(mic[i : i + n], MIC_RATE, i / MIC_RATE) for i in range(0, mic.size, n)]


def _frame_db(x: Samples) -> npt.NDArray[np.float64]:
    n = int(FRAME_S * MIC_RATE)
    return np.array(
        [
            10 * np.log10(np.mean(np.square(x[i : i + n], dtype=np.float64)) + 1e-12)
            for i in range(0, x.size, n)
        ]
    )


LOUD_DB = -45.0  # frames the arbiter could count as voiced


@pytest.mark.parametrize("lag_s", [0.06, 0.3])
def test_echo_at_minus_20_db_is_echo(lag_s: float) -> None:
    ref = _speechlike(1, 4.0, REF_RATE, 120.0)
    echo = _delay(_resample(ref, REF_RATE, MIC_RATE), lag_s, MIC_RATE, -20.0)
    echo += 1e-4 * np.random.default_rng(2).standard_normal(echo.size).astype(np.float32)
    verdicts = _run(EchoGate(), ref, echo)
    loud = _frame_db(echo) > LOUD_DB
    loud[: int(0.5 / FRAME_S)] = False  # the gate's first window is filling
    is_echo = np.array([v.is_echo for v in verdicts])
    assert is_echo[loud].mean() >= 0.98
    lags = [v.lag_s for v in verdicts if v.is_echo]
    assert np.median(lags) == pytest.approx(lag_s, abs=0.011)
    assert min(v.correlation for v in verdicts if v.is_echo) >= 0.8


def test_silent_reference_is_never_echo() -> None:
    rng = np.random.default_rng(3)
    mic = _speechlike(4, 2.0, MIC_RATE, 180.0) + 1e-3 * rng.standard_normal(2 * MIC_RATE)
    for ref in (np.zeros(3 * REF_RATE, np.float32), np.zeros(0, np.float32)):
        verdicts = _run(EchoGate(), ref, mic.astype(np.float32))
        assert not any(v.is_echo for v in verdicts)
    # no reference pushed at all: no lag either
    assert EchoGate().push_input(mic[:320].astype(np.float32), MIC_RATE, 0.0).lag_s is None


@pytest.mark.parametrize("user_db", [0.0, 6.0, 20.0])
def test_double_talk_is_not_echo(user_db: float) -> None:
    # recorded speech (the repo's rendered agent line and user clips): the user speaks over
    # the agent's -20 dB echo at the echo's level or louder
    ref = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)).render(SCENES["backchannel"].opening)
    assert ref.size / TTS_SAMPLE_RATE_HZ > 8.0
    echo = _delay(_resample(ref, REF_RATE, MIC_RATE), 0.06, MIC_RATE, -20.0)
    # "Two two three." is the demo's clip before 2026-12-02 (the demo now says the whole
    # number), kept so the bounds below are read on the signal they were set on
    talk = np.concatenate(
        [
            user_clip("number_part1", MIC_RATE),
            load_clip(FIXTURES / "two_two_three.flac", MIC_RATE),
            user_clip("wait_stop_tuesday", MIC_RATE),
        ]
    )
    scale = np.sqrt(np.mean(echo[echo != 0] ** 2) / np.mean(talk[np.abs(talk) > 1e-3] ** 2))
    user = np.zeros_like(echo)
    start = 2 * MIC_RATE
    user[start : start + talk.size] = talk * scale * 10 ** (user_db / 20)
    verdicts = _run(EchoGate(), ref, (echo + user).astype(np.float32))
    is_echo = np.array([v.is_echo for v in verdicts])
    talking = _frame_db(user) > LOUD_DB
    # the user's voice is new energy the reference does not explain; what slips through is
    # where it is no louder than the echo
    assert is_echo[talking].mean() <= (0.15 if user_db == 0.0 else 0.06)
    non_echo_s = np.sum(talking & ~is_echo) * FRAME_S
    assert non_echo_s >= 1.2  # enough for the arbiter's sustained-speech rule


def test_noise_burst_over_a_silent_reference_is_not_echo() -> None:
    rng = np.random.default_rng(7)
    ref = np.zeros(2 * REF_RATE, np.float32)
    ref[: REF_RATE // 2] = _speechlike(8, 0.5, REF_RATE, 120.0)  # the agent paused after 0.5 s
    mic = np.zeros(2 * MIC_RATE, np.float32)
    n = int(0.3 * MIC_RATE)
    mic[MIC_RATE : MIC_RATE + n] = 0.5 * rng.standard_normal(n) * np.exp(-np.arange(n) / 1600)
    verdicts = _run(EchoGate(), ref, mic)
    burst = _frame_db(mic) > LOUD_DB
    assert burst.any() and not any(v.is_echo for v, b in zip(verdicts, burst, strict=True) if b)


def test_cleared_reference_no_longer_explains_the_input() -> None:
    ref = _speechlike(9, 4.0, REF_RATE, 120.0)
    echo = _delay(_resample(ref, REF_RATE, MIC_RATE), 0.06, MIC_RATE, -20.0)
    gate = EchoGate()
    _queue_reference(gate, ref)
    gate.clear_reference(after_s=1.0)  # playback was cleared at 1 s: the rest never played
    assert gate.has_reference(1.2) and not gate.has_reference(2.5)
    n = int(FRAME_S * MIC_RATE)
    late = [
        gate.push_input(echo[i : i + n], MIC_RATE, i / MIC_RATE) for i in range(0, echo.size, n)
    ]
    assert not any(v.is_echo for v in late[int(2.0 / FRAME_S) :])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_lag_s": -0.1}, r"max_lag_s must be in \[0, 2\] s"),
        ({"max_lag_s": 3.0}, r"max_lag_s must be in \[0, 2\] s"),
        ({"window_s": 0.05}, r"window_s must be in \[0.1, 1\] s"),
        ({"min_correlation": 1.0}, r"min_correlation must be in \(0, 1\)"),
        ({"max_gain_db": 30.0}, r"max_gain_db must be in \[-40, 20\] dB"),
        ({"max_excess_db": -1.0}, r"max_excess_db must be in \[0, 30\] dB"),
    ],
)
def test_bad_options_raise_value_error_naming_the_range(
    kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        EchoGate(**kwargs)
    with pytest.raises(ValueError, match="> 0"):
        EchoGate().push_reference(np.zeros(10, np.float32), 0, 0.0)


def test_transcript_is_echo_text_check() -> None:
    agent = "first unplug it from the wall and wait about thirty seconds".split()
    assert transcript_is_echo(["unplug", "it", "from"], agent)
    assert not transcript_is_echo(["wait", "stop"], agent)
    assert not transcript_is_echo([], agent)


def _voiced(duration_s: float = 0.02) -> AudioFeatures:
    return AudioFeatures(level_dbfs=-30.0, zcr=0.05, duration_s=duration_s)


ECHO = EchoVerdict(is_echo=True, lag_s=0.06, correlation=0.97)


def test_decider_discounts_echo_frames_and_echo_words() -> None:
    agent = "First, unplug it from the wall and wait about thirty seconds."
    d = ArbiterDecider(TextModel.load(), params=ArbiterParams())
    d.on_agent_speech(agent, 0.0)
    d.on_user_speech_start(1.0)
    t = 1.0
    for _ in range(150):  # 3 s of the agent's echo: no sustained speech
        t += 0.02
        assert d.push_audio_features(_voiced(), t, echo=ECHO) is None
    assert d.state is ArbiterState.LISTENING and d.echo_dominated
    assert d.on_transcript("unplug it from the wall", True, t) is None
    assert d.last_transcript_echo
    ev = d.on_user_speech_end(t) or d.tick(t + 1.0)
    assert ev is not None and ev.label == "backchannel" and "echo" in ev.cues
    assert ev.echo_s == pytest.approx(3.0) and ev.echo_lag_s == 0.06


def test_decider_user_speech_over_echo_still_interrupts() -> None:
    # interrupting at once (no pause to confirm) so the sustained-speech stop is the event
    d = ArbiterDecider(TextModel.load(), params=ArbiterParams(confirm_audio_stops=False))
    d.on_agent_speech("First, unplug it from the wall.", 0.0)
    d.on_user_speech_start(1.0)
    t = 1.0
    for _ in range(50):  # 1 s of echo, then the user's own voice
        t += 0.02
        d.push_audio_features(_voiced(), t, echo=ECHO)
    ev = None
    while ev is None and t < 4.0:
        t += 0.02
        ev = d.push_audio_features(_voiced(), t, echo=EchoVerdict(False, 0.06, 0.3))
    assert ev is not None and ev.label == "interruption" and ev.cues[0] == "sustained_speech"
    assert t - 2.0 == pytest.approx(ArbiterParams().sustained_speech_s, abs=0.05)


def test_user_speech_with_no_echo_at_all_is_never_echo() -> None:
    # the usual case in a room with working echo cancellation: the microphone hears only the
    # user, who starts talking at some moment of the agent's speech. Where the start
    # coincides with the agent resuming after a pause, a mostly silent window correlates
    # with the reference by its on/off pattern alone. Before the syllable check, 84 of these
    # 223 starts had user frames called echo (and 10 of 100 val session episodes); with the
    # check over 10 hops at 0.8, 27 still had; over 12 at 0.9 (shipped), none
    ref = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)).render(SCENES["backchannel"].opening)
    clips = [user_clip(n, MIC_RATE) for n in ("uh_huh", "wait_stop_tuesday", "number_part2")]
    starts_s = np.arange(0.6, ref.size / REF_RATE - 1.0, 0.05)
    n = int(FRAME_S * MIC_RATE)
    hit: list[tuple[float, str]] = []
    for k, start_s in enumerate(starts_s):
        gate = EchoGate()
        _queue_reference(gate, ref)
        talk = clips[k % len(clips)]
        mic = np.zeros(int((start_s + 0.5) * MIC_RATE), np.float32)
        i0 = int(start_s * MIC_RATE)
        piece = talk[: mic.size - i0]
        mic[i0 : i0 + piece.size] = piece
        # silence before the user starts fills the gate's window; the first 0.5 s is checked
        for i in range(int((start_s - 0.4) * MIC_RATE) // n * n, mic.size - n + 1, n):
            v = gate.push_input(mic[i : i + n], MIC_RATE, i / MIC_RATE)
            if v.is_echo and _frame_db(mic[i : i + n])[0] > LOUD_DB:
                hit.append((round(float(start_s), 2), f"{v.correlation:.2f}/{v.joint_correlation}"))
    assert len(starts_s) >= 200
    assert hit == []
