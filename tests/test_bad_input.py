"""Bad input through our plugins: odd sample rates and channel layouts, empty frames, silent,
clipped and DC-shifted audio, a 60 s monologue, noise bursts, the agent's own voice coming
back, and odd transcripts; and invalid options of every public constructor.

Session tests run a real AgentSession with the `ours` stack on virtual time (real Silero
VAD; scripted STT with known words that segments the audio the session really sends).
Noise bursts are synthesized here (seeded), so nothing depends on files outside the repo.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from livekit import rtc
from livekit.agents import inference
from livekit.plugins.local_whisper import LocalSTT, WhisperTranscriber
from livekit.plugins.local_whisper.model import (
    VAD_THRESHOLD_DBFS,
    EnergyVad,
    SpeechSegmenter,
    transcribe_timeline,
)
from livekit.plugins.local_whisper.stt import frame_to_samples_16k
from livekit.plugins.turntaking import TurnTakingModels, load_models
from livekit.plugins.turntaking.arbiter import (
    ArbiterDecider,
    ArbiterParams,
    InterruptionArbiter,
    TextModel,
    VoiceActivity,
    frame_features,
)
from livekit.plugins.turntaking.arbiter.frontend import NoiseFloorGate
from livekit.plugins.turntaking.endpointing import (
    AdaptiveEndpointer,
    AdaptiveTurnDetector,
    CompletenessModel,
    PausePrior,
    SpeakerPauseModel,
)

from sim.audio_io import ScheduledAudioInput
from sim.fake_stt import ScriptedSTT
from sim.harness import EventKind, SimHarness, TimelineEvent
from sim.lines import AGENT_LINES
from sim.llm import ScriptedLLM
from sim.scenes import SCENES, user_clip
from sim.tts import TTS_SAMPLE_RATE_HZ, ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual
from worker.reliability import ReplyGuard, install_apology

Samples = npt.NDArray[np.float32]
RATES = (8000, 16000, 24000, 44100, 48000)
SPEECH = "wait_stop_tuesday"
SPEECH_TEXT = "Wait, stop, I meant Tuesday."
CLIP_RATE = 16_000
OPENING = SCENES["backchannel"].opening
STOPS = (EventKind.AUDIO_CLEARED, EventKind.AUDIO_PAUSED)


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    loaded = load_models(load_vad=False)
    assert not loaded.problems
    return loaded


def _speech(rate: int = CLIP_RATE) -> Samples:
    return user_clip(SPEECH, rate)


# --------------------------------------------------------------------------- session helper


class _Input(ScheduledAudioInput):
    """Scheduled input that can deliver stereo frames and slip in empty frames."""

    def __init__(self, *, channels: int, empty_every: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = channels
        self.empty_every = empty_every
        self.delivered = 0

    async def __anext__(self) -> rtc.AudioFrame:
        self.delivered += 1
        if self.empty_every and self.delivered % self.empty_every == 0:
            return rtc.AudioFrame(
                data=b"",
                sample_rate=self.sample_rate,
                num_channels=self.channels,
                samples_per_channel=0,
            )
        frame = await super().__anext__()
        if self.channels == 1:
            return frame
        mono = np.frombuffer(frame.data, dtype=np.int16)
        inter = np.repeat(mono, self.channels)
        return rtc.AudioFrame(
            data=inter.tobytes(),
            sample_rate=frame.sample_rate,
            num_channels=self.channels,
            samples_per_channel=frame.samples_per_channel,
        )


async def _session(
    models: TurnTakingModels,
    *,
    user: list[tuple[Samples, int, float | None]],
    texts: list[str],
    rate: int = 16_000,
    channels: int = 1,
    empty_every: int = 0,
    agent_opening: str | None = None,
    settle_s: float = 3.0,
    stt_min_silence_s: float = 0.6,
    stt_threshold_dbfs: float = VAD_THRESHOLD_DBFS,
) -> tuple[list[TimelineEvent], ScriptedLLM, ReplyGuard, list[tuple[str, float, float]]]:
    """Run the `ours` stack: the agent says `agent_opening` (if any), then each user clip
    (samples, rate, start: seconds after the agent's audio started, or None: after the
    previous activity went quiet) plays. Returns the timeline, the LLM, the reply guard
    and the clips' (label, start, end)."""
    llm = ScriptedLLM(default_reply="Okay.")
    h = await SimHarness.start(
        stack="ours",
        stt=ScriptedSTT(texts, min_silence_s=stt_min_silence_s, threshold_dbfs=stt_threshold_dbfs),
        vad=inference.VAD(executor=InlineExecutor()),
        llm=llm,
        tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
        models=models,
        input_rate_hz=rate,
    )
    if channels != 1 or empty_every:
        # swap in the odd input before any frame is read
        odd = _Input(channels=channels, empty_every=empty_every, clock=h.clock, sample_rate=rate)
        h.session.input.audio = odd
        h.audio_in.close()
        h.audio_in = odd
    guard = install_apology(h.session)
    rec = h.recorder
    try:
        base = 0.3
        if agent_opening is not None:
            h.session.say(agent_opening)
            await h.wait_for(lambda: rec.first(EventKind.AUDIO_STARTED) is not None, timeout_s=5)
            started = rec.first(EventKind.AUDIO_STARTED)
            assert started is not None
            base = started.at_s
        for i, (samples, sr, at) in enumerate(user):
            if at is None:
                await h.wait_idle(quiet_s=1.0, timeout_s=120)
                start = h.clock.now() + 0.3
            else:
                start = base + at
            h.schedule_user(samples, sr, max(start, h.clock.now()), label=f"u{i}")
        await h.wait_idle(quiet_s=settle_s, timeout_s=180)
        spans = [(c.label, c.start_s, c.end_s) for c in h.audio_in.clips]
        return rec.sorted(), llm, guard, spans
    finally:
        await h.aclose()


def _user_turns(events: list[TimelineEvent]) -> list[str]:
    return [e.detail for e in events if e.kind is EventKind.USER_TURN]


def _ducks(events: list[TimelineEvent]) -> list[float]:
    return [e.at_s for e in events if e.kind is EventKind.AUDIO_DUCKED]


def _stops_after(events: list[TimelineEvent], t: float) -> list[float]:
    return [e.at_s for e in events if e.kind in STOPS and e.at_s >= t]


# --------------------------------------------------------------------------- rates, layouts


@pytest.mark.parametrize("rate", RATES)
def test_frame_features_and_stt_input_at_every_rate(rate: int) -> None:
    x = _speech(rate)
    n = rate // 100  # 10 ms frames
    frames = [x[i : i + n] for i in range(0, x.size - n, n)]
    feats = [frame_features(f, rate) for f in frames]
    assert all(math.isfinite(f.level_dbfs) and 0.0 <= f.zcr <= 1.0 for f in feats)
    assert all(f.duration_s == pytest.approx(0.01, abs=1e-4) for f in feats)
    voiced = sum(f.voiced for f in feats) / len(feats)
    assert 0.2 < voiced < 0.95  # speech with its pauses, at every rate alike
    assert not frame_features(np.zeros(n, np.float32), rate).voiced
    for channels in (1, 2):
        pcm = (np.repeat(frames[len(frames) // 2], channels) * 32767).astype(np.int16)
        frame = rtc.AudioFrame(pcm.tobytes(), rate, channels, n)
        y = frame_to_samples_16k(frame)
        assert y.dtype == np.float32 and y.ndim == 1 and abs(y.size - 160) <= 2


@pytest.mark.parametrize("rate", RATES)
def test_session_at_every_input_rate(rate: int, models: TurnTakingModels) -> None:
    events, llm, guard, _ = run_virtual(
        _session(models, user=[(_speech(), CLIP_RATE, 0.0)], texts=[SPEECH_TEXT], rate=rate)
    )
    assert _user_turns(events) == [SPEECH_TEXT]
    assert [c.last_user_text for c in llm.calls] == [SPEECH_TEXT]
    assert guard.apologies == []


def test_empty_frames_in_the_input(models: TurnTakingModels) -> None:
    # the user interrupts the agent while one input frame in 7 is empty (0 samples)
    events, llm, guard, spans = run_virtual(
        _session(
            models,
            user=[(_speech(), CLIP_RATE, 2.6)],
            texts=[SPEECH_TEXT],
            rate=48_000,
            empty_every=7,
            agent_opening=SCENES["interruption"].opening,
        )
    )
    onset = spans[0][1]
    stops = _stops_after(events, onset)
    assert stops and stops[0] - onset < 1.5, "the interruption did not stop the agent"
    decisions = [e for e in events if e.kind is EventKind.DECISION and "label" in e.data]
    assert [e.data["label"] for e in decisions] == ["interruption"]
    assert _user_turns(events) == [SPEECH_TEXT]


def test_empty_frame_is_a_clear_error_for_the_pure_features() -> None:
    with pytest.raises(ValueError, match="empty audio frame"):
        frame_features(np.zeros(0, np.float32), 16000)
    assert frame_to_samples_16k(rtc.AudioFrame(b"", 16000, 1, 0)).size == 0


# --------------------------------------------------------------------------- odd signals


def test_all_zero_audio_is_no_turn(models: TurnTakingModels) -> None:
    zeros = np.zeros(5 * CLIP_RATE, np.float32)
    events, llm, guard, _ = run_virtual(
        _session(models, user=[(zeros, CLIP_RATE, 0.0)], texts=["should never be used"])
    )
    assert _user_turns(events) == []
    assert llm.calls == [] and guard.apologies == []
    assert not [e for e in events if e.kind is EventKind.USER_STATE and e.detail == "speaking"]


def test_full_scale_clipping_still_makes_a_turn(models: TurnTakingModels) -> None:
    x = _speech()
    clipped = np.clip(x * 30.0, -1.0, 1.0).astype(np.float32)
    assert np.mean(np.abs(clipped) >= 0.999) > 0.2  # heavily clipped
    events, llm, _, _ = run_virtual(
        _session(models, user=[(clipped, CLIP_RATE, 0.0)], texts=[SPEECH_TEXT])
    )
    assert _user_turns(events) == [SPEECH_TEXT]


def test_dc_offset_does_not_hide_or_fake_speech(models: TurnTakingModels) -> None:
    x = _speech()
    shifted = (np.clip(x * 0.7 + 0.25, -1.0, 1.0)).astype(np.float32)
    events, llm, _, _ = run_virtual(
        _session(models, user=[(shifted, CLIP_RATE, 0.0)], texts=[SPEECH_TEXT])
    )
    assert _user_turns(events) == [SPEECH_TEXT]
    # a constant offset on its own is silence to the arbiter's features and to the STT's VAD
    dc = np.full(1600, 0.25, np.float32)
    assert not frame_features(dc[:160], 16000).voiced
    assert not EnergyVad().voiced_frames(dc).any()


def _monologue(target_s: float = 60.0) -> Samples:
    parts = [user_clip(n) for n in ("wait_stop_tuesday", "number_part1", "number_part2")]
    gap = np.zeros(int(0.15 * CLIP_RATE), np.float32)
    out: list[Samples] = []
    total = 0
    i = 0
    while total < target_s * CLIP_RATE:
        out += [parts[i % 3], gap]
        total += parts[i % 3].size + gap.size
        i += 1
    return np.concatenate(out)


def test_sixty_second_monologue(models: TurnTakingModels) -> None:
    long_text = " ".join(["word"] * 150) + "."
    mono = _monologue()
    assert mono.size >= 60 * CLIP_RATE
    events, llm, guard, spans = run_virtual(
        _session(
            models,
            user=[(mono, CLIP_RATE, 0.0)],
            texts=[long_text],
            stt_min_silence_s=2.0,
            # longer than the endpointing's wait for the recogniser's late final (2 s of
            # silence) plus its delay: closing sooner drops the turn at the session's close
            settle_s=5.0,
        )
    )
    # however the pauses were cut, the whole text reaches the LLM once, after the speech
    assert llm.calls, "the monologue never reached the LLM"
    users = [t for r, t in llm.calls[-1].items if r == "user"]
    assert " ".join(users).count("word") == 150
    end = spans[0][2]
    assert any(e.kind is EventKind.AUDIO_STARTED and e.at_s > end for e in events)
    assert guard.apologies == []


def _cough(rng: np.random.Generator, rate: int = CLIP_RATE) -> Samples:
    # two bursts of band-limited noise with a fast attack, like "khh-khh"
    parts = []
    for dur in (0.18, 0.14):
        n = int(dur * rate)
        noise = rng.standard_normal(n)
        # a crude band-pass: difference of two moving averages
        lo = np.convolve(noise, np.ones(4) / 4, "same") - np.convolve(
            noise, np.ones(40) / 40, "same"
        )
        env = np.exp(-np.arange(n) / (0.05 * rate)) * (1 - np.exp(-np.arange(n) / (0.004 * rate)))
        parts += [0.6 * lo * env / np.max(np.abs(lo)), np.zeros(int(0.08 * rate))]
    return np.concatenate(parts).astype(np.float32)


def _door_slam(rng: np.random.Generator, rate: int = CLIP_RATE) -> Samples:
    # a near full-scale broadband impact with a low resonant thud, decaying over 0.4 s
    n = int(0.4 * rate)
    t = np.arange(n) / rate
    thud = np.sin(2 * np.pi * 70 * t) * np.exp(-t / 0.08)
    crack = rng.standard_normal(n) * np.exp(-t / 0.01)
    return (0.95 * np.clip(thud + 0.8 * crack, -1, 1)).astype(np.float32)


@pytest.mark.parametrize("kind", ["cough", "door_slam"])
def test_noise_burst_does_not_stop_the_agent(kind: str, models: TurnTakingModels) -> None:
    rng = np.random.default_rng(7)
    burst = _cough(rng) if kind == "cough" else _door_slam(rng)
    events, llm, _, spans = run_virtual(
        _session(
            models,
            user=[(burst, CLIP_RATE, 3.0), (burst, CLIP_RATE, 6.0)],
            texts=["", ""],  # a speech-to-text service transcribes no words for a noise
            agent_opening=OPENING,
        )
    )
    onset = spans[0][1]
    assert _stops_after(events, onset) == [], f"a {kind} stopped the agent"
    assert _ducks(events) == [], f"a {kind} ducked the agent"
    assert _user_turns(events) == [] and llm.calls == []


@pytest.mark.parametrize(("lag_s", "gain_db"), [(0.06, -20.0), (0.3, -10.0)])
def test_agent_echo_does_not_stop_the_agent(
    lag_s: float, gain_db: float, models: TurnTakingModels
) -> None:
    # a speakerphone: the agent's own voice comes back late and attenuated, and the
    # speech-to-text hears the agent's words in it
    t = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES))
    echo = (t.render(OPENING) * 10 ** (gain_db / 20)).astype(np.float32)
    events, llm, _, spans = run_virtual(
        _session(
            models,
            user=[(echo, TTS_SAMPLE_RATE_HZ, lag_s)],
            texts=list(AGENT_LINES[:4]) * 2,
            agent_opening=OPENING,
        )
    )
    assert _stops_after(events, spans[0][1]) == [], "the agent's own echo stopped it"
    assert _ducks(events) == [], "the agent's own echo ducked it"
    assert llm.calls == []


def _babble(seconds: float, level_dbfs: float) -> Samples:
    # four voices of the agent's own lines played backwards: speech to the session's VAD
    # from start to end, at a steady level the absolute voicing test takes for speech
    lines = [ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)).render(t) for t in AGENT_LINES]
    n = int(seconds * TTS_SAMPLE_RATE_HZ)
    mix = np.zeros(n)
    for k in range(4):
        voice = np.concatenate([lines[(k + j) % len(lines)][::-1] for j in range(len(lines))])
        mix += np.resize(voice[k * TTS_SAMPLE_RATE_HZ // 3 :], n)
    mix *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(mix**2))
    return mix.astype(np.float32)


@pytest.mark.parametrize("gated", [True, False])
def test_a_babbling_room_neither_stops_the_agent_nor_hides_the_user(
    gated: bool, models: TurnTakingModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a caller in a cafe: babble before, during and after the agent speaks, which the
    # session's VAD hears as one endless run of speech; the speech-to-text's own endpointing
    # ignores it (a recogniser that does transcribe it is the benchmark's noise conditions)
    if not gated:  # negative control: the front end without its noise-floor gate
        monkeypatch.setattr(NoiseFloorGate, "gate", lambda self, features, end_s: features)
    events, llm, _, spans = run_virtual(
        _session(
            models,
            user=[
                (_babble(14.0, -42.0), TTS_SAMPLE_RATE_HZ, 0.0),
                (user_clip("uh_huh"), CLIP_RATE, 3.0),
                (user_clip("wait_stop_tuesday"), CLIP_RATE, 9.0),
            ],
            texts=["uh huh", SPEECH_TEXT],
            agent_opening=" ".join([OPENING] * 3),
            stt_threshold_dbfs=-30.0,
            settle_s=5.0,
        )
    )
    backchannel, interruption = spans[1][1], spans[2][1]
    stops = _stops_after(events, 0.0)
    if not gated:
        assert stops and stops[0] < backchannel, "the babble alone should stop the agent"
        return
    assert stops and stops[0] >= interruption, "the babble or the backchannel stopped the agent"
    assert stops[0] - interruption < 1.5
    # the words are the next turn (committed once the VAD hears the babble end)
    assert _user_turns(events) == [SPEECH_TEXT]
    assert [c.last_user_text for c in llm.calls] == [SPEECH_TEXT]


# --------------------------------------------------------------------------- transcripts

ODD_TEXTS = {
    "empty": "",
    "long": ("so I was thinking about the order and " * 260)[:10_000],
    "emoji": "👍👍 ok 😀 sure 🎉",
    "other_language": "Attendez, arrêtez, je voulais dire mardi. 我是说星期二。",
}


@pytest.mark.parametrize("kind", list(ODD_TEXTS))
def test_odd_transcripts_through_the_pure_models(kind: str) -> None:
    text = ODD_TEXTS[kind]
    tm = TextModel.load()
    p = tm.probability(text, OPENING)
    assert 0.0 <= p <= 1.0
    d = ArbiterDecider(tm, params=ArbiterParams())
    d.on_agent_speech(OPENING, 0.0)
    d.on_user_speech_start(1.0)
    d.on_transcript(text, False, 1.3)
    d.on_transcript(text, True, 1.6)
    ev = d.on_user_speech_end(1.7) or d.tick(3.0)
    assert ev is not None or d.last_event is not None  # decided, whatever the words
    cm = CompletenessModel.load()
    assert 0.0 <= cm.probability(text) <= 1.0
    ep = AdaptiveEndpointer(completeness=cm, pauses=SpeakerPauseModel(PausePrior.load()))
    ep.on_speech_start(0.0)
    ep.on_transcript(text, 0.5, is_final=True)
    ep.on_speech_end(1.0)
    dec = ep.decision()
    assert dec is not None and ep.floor_s <= dec.delay_s <= ep.ceiling_s


@pytest.mark.parametrize("kind", list(ODD_TEXTS))
def test_odd_transcripts_through_a_session(kind: str, models: TurnTakingModels) -> None:
    text = ODD_TEXTS[kind]
    events, llm, guard, _ = run_virtual(
        _session(models, user=[(_speech(), CLIP_RATE, 0.0)], texts=[text])
    )
    if kind == "empty":
        # nothing was said in words: no turn, no reply, no apology
        assert _user_turns(events) == [] and llm.calls == []
    else:
        # the whole text, unmodified, is the user's turn the LLM sees
        assert _user_turns(events) == [text]
        assert llm.calls[-1].last_user_text == text
    assert guard.apologies == []


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    w = WhisperTranscriber()
    w.load()
    return w


def test_local_stt_on_empty_silent_and_short_audio(whisper: WhisperTranscriber) -> None:
    assert whisper.transcribe(np.zeros(0, np.float32)) == ""
    assert transcribe_timeline(whisper, np.zeros(CLIP_RATE, np.float32)) == []
    # a DC offset or a 5 ms click is no speech segment: nothing is decoded
    assert transcribe_timeline(whisper, np.full(CLIP_RATE, 0.25, np.float32)) == []
    click = np.zeros(CLIP_RATE, np.float32)
    click[8000:8080] = 0.9
    assert transcribe_timeline(whisper, click) == []
    with pytest.raises(ValueError, match="mono"):
        whisper.transcribe(np.zeros((100, 2), np.float32))
    with pytest.raises(ValueError, match="float"):
        whisper.transcribe(np.zeros(100, np.int16))


# --------------------------------------------------------------------------- options

Ctor = Callable[[], object]


def _ctors() -> list[tuple[str, Ctor, str]]:
    tm = TextModel(np.zeros(TextModel.load().weights.shape, np.float32), 0.0)
    prior = PausePrior.load()
    cm = CompletenessModel.load()
    return [
        (
            "arbiter.undecided_limit_s",
            lambda: InterruptionArbiter(model=tm, undecided_limit_s=0.1),
            r"\[0.5, 60\]",
        ),
        (
            "ArbiterParams.interrupt_threshold",
            lambda: ArbiterParams(interrupt_threshold=1.5),
            r"\[0, 1\]",
        ),
        (
            "ArbiterParams.sustained_speech_s",
            lambda: ArbiterParams(sustained_speech_s=0.0),
            r"\[0.1, 10\]",
        ),
        ("ArbiterParams.min_voiced_s", lambda: ArbiterParams(min_voiced_s=-1.0), r"\[0, 1\]"),
        ("ArbiterParams.final_wait_s", lambda: ArbiterParams(final_wait_s=9.0), r"\[0, 5\]"),
        ("ArbiterParams.pause_wait_s", lambda: ArbiterParams(pause_wait_s=4.0), r"\[0, 3.0\]"),
        (
            "ArbiterParams.interim_confirm_threshold",
            lambda: ArbiterParams(interim_confirm_threshold=1.5),
            r"interim_confirm_threshold must be in \[0, 1\]",
        ),
        ("VoiceActivity.start_s", lambda: VoiceActivity(start_s=0.0), r"\(0, 0.5\]"),
        ("VoiceActivity.margin_db", lambda: VoiceActivity(margin_db=99.0), r"\[0, 40\]"),
        (
            "frame_features.sample_rate_hz",
            lambda: frame_features(np.zeros(10, np.float32), 0),
            "> 0",
        ),
        ("detector.threshold", lambda: AdaptiveTurnDetector(threshold=1.0), r"\(0, 1\)"),
        ("detector.ceiling_s", lambda: AdaptiveTurnDetector(ceiling_s=9.0), "ceiling_s <= 3.0"),
        (
            "detector.fallback_delay_s",
            lambda: AdaptiveTurnDetector(fallback_delay_s=5.0),
            "floor_s, ceiling_s",
        ),
        (
            "endpointer.threshold",
            lambda: AdaptiveEndpointer(
                completeness=cm, pauses=SpeakerPauseModel(prior), threshold=0.0
            ),
            r"\(0, 1\)",
        ),
        (
            "endpointer.audio_weight",
            lambda: AdaptiveEndpointer(
                completeness=cm, pauses=SpeakerPauseModel(prior), audio_weight=3.0
            ),
            r"\[0, 2\]",
        ),
        (
            "SpeakerPauseModel.prior_weight",
            lambda: SpeakerPauseModel(prior, prior_weight=0.0),
            "prior_weight must be",
        ),
        (
            "SpeakerPauseModel.scale_weight",
            lambda: SpeakerPauseModel(prior, scale_weight=-1.0),
            "scale_weight must be",
        ),
        (
            "CompletenessModel.weights",
            lambda: CompletenessModel(weights=np.zeros(1), bias=0.0),
            "1-D array",
        ),
        ("LocalSTT.interim_interval_s", lambda: LocalSTT(interim_interval_s=0.0), "0.05..5"),
        ("LocalSTT.min_silence_s", lambda: LocalSTT(min_silence_s=10.0), "0.02..5"),
        ("LocalSTT.vad_threshold_dbfs", lambda: LocalSTT(vad_threshold_dbfs=3.0), "-80..0"),
        ("Whisper.cpu_threads", lambda: WhisperTranscriber(cpu_threads=0), "1..16"),
        (
            "Whisper.compute_type",
            lambda: WhisperTranscriber(compute_type="fp8"),
            "int8, int8_float32, float32",
        ),
        ("Whisper.beam_size", lambda: WhisperTranscriber(beam_size=9), "1..8"),
        ("EnergyVad.min_speech_s", lambda: EnergyVad(min_speech_s=2.0), "0..1"),
        (
            "SpeechSegmenter.max_segment_s",
            lambda: SpeechSegmenter(vad=EnergyVad(), max_segment_s=60.0),
            "1..28",
        ),
        (
            "transcribe_timeline.tail_pad_s",
            lambda: transcribe_timeline(
                WhisperTranscriber(), np.zeros(10, np.float32), tail_pad_s=2.0
            ),
            "0..1",
        ),
        ("ReplyGuard.stall_timeout_s", lambda: ReplyGuard(stall_timeout_s=0.0), r"\[1, 60\]"),
    ]


@pytest.mark.parametrize("name", [c[0] for c in _ctors()])
def test_invalid_options_raise_value_error_naming_the_range(name: str) -> None:
    (ctor, match) = next((c, m) for n, c, m in _ctors() if n == name)
    with pytest.raises(ValueError, match=match):
        ctor()
