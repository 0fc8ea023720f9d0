"""Local streaming STT: segmentation on literal signals, Whisper on a short committed clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from livekit import rtc
from livekit.agents import stt
from livekit.plugins.local_whisper import LocalSTT, WhisperTranscriber, transcribe_timeline
from livekit.plugins.local_whisper.model import (
    SAMPLE_RATE_HZ,
    EnergyVad,
    SegmenterEventType,
    SpeechSegmenter,
    _window_s,
    compression_ratio,
)

CLIP = Path(__file__).parent / "fixtures" / "sim" / "wait_stop_tuesday_16k.flac"
SR = SAMPLE_RATE_HZ


def _signal(spans: list[tuple[float, float]], total_s: float) -> np.ndarray:
    """A 200 Hz tone (-9 dBFS) inside `spans`, digital silence elsewhere."""
    out = np.zeros(int(total_s * SR), dtype=np.float32)
    for a, b in spans:
        t = np.arange(int(a * SR), int(b * SR)) / SR
        out[int(a * SR) : int(a * SR) + t.size] = 0.5 * np.sin(2 * np.pi * 200 * t)
    return out


def test_energy_vad_finds_segments_and_closes_after_min_silence() -> None:
    audio = _signal([(0.5, 1.0), (1.2, 1.5), (2.5, 3.0)], 4.0)
    segs = EnergyVad(min_silence_s=0.3).segments(audio)
    # the 0.2 s gap stays inside the first segment; the 1.0 s gap splits
    assert [(s.start_s, s.end_s) for s in segs] == [
        pytest.approx((0.5, 1.5), abs=0.021),
        pytest.approx((2.5, 3.0), abs=0.021),
    ]
    assert segs[0].closed_at_s == pytest.approx(1.8, abs=0.021)


def test_energy_vad_ignores_a_click_shorter_than_min_speech() -> None:
    audio = _signal([(1.0, 1.02)], 2.0)
    assert EnergyVad(min_speech_s=0.06).segments(audio) == []


def test_segmenter_emits_start_interims_end_in_stream_order() -> None:
    audio = _signal([(0.4, 1.6)], 2.5)
    seg = SpeechSegmenter(vad=EnergyVad(min_silence_s=0.3), interim_interval_s=0.3)
    events = []
    for i in range(0, audio.size, 320):  # 20 ms chunks, as a stream would deliver
        events.extend(seg.push(audio[i : i + 320]))
    kinds = [e.type for e in events]
    assert kinds[0] is SegmenterEventType.START
    assert kinds[-1] is SegmenterEventType.END
    interims = [e.at_s for e in events if e.type is SegmenterEventType.INTERIM]
    # every 0.3 s of speech from the 0.4 s onset, while speech lasts (to 1.6 s)
    assert interims == pytest.approx([0.7, 1.0, 1.3, 1.6], abs=0.021)
    assert events[0].at_s == pytest.approx(0.46, abs=0.021)
    assert events[-1].at_s == pytest.approx(1.9, abs=0.021)
    assert events[-1].audio.size == pytest.approx(1.5 * SR, abs=400)


def test_segmenter_flush_closes_an_open_segment() -> None:
    seg = SpeechSegmenter()
    assert seg.push(_signal([(0.0, 0.5)], 0.5))[0].type is SegmenterEventType.START
    assert [e.type for e in seg.flush()] == [SegmenterEventType.END]
    assert seg.flush() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpu_threads": 0}, "cpu_threads"),
        ({"compute_type": "fp8"}, "compute_type"),
        ({"beam_size": 9}, "beam_size"),
        ({"min_window_s": 4.0}, "min_window_s must be in 8..30"),
        ({"min_window_s": 31.0}, "min_window_s must be in 8..30"),
    ],
)
def test_transcriber_rejects_bad_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WhisperTranscriber(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("audio_s", "min_window_s", "window_s"),
    [
        (0.4, 10.0, 10.0),  # short interims share one 10 s window
        (7.9, 10.0, 10.0),  # 7.9 + 2 s tail = 9.9 s
        (8.1, 10.0, 15.0),  # 10.1 s rounds up to the next 5 s step
        (12.0, 10.0, 15.0),
        (20.0, 8.0, 25.0),
        (27.5, 10.0, 30.0),  # never beyond Whisper's 30 s
        (3.0, 30.0, 30.0),  # 30: faster-whisper's own full window
    ],
)
def test_encoder_window_is_audio_plus_tail_rounded_up(
    audio_s: float, min_window_s: float, window_s: float
) -> None:
    assert _window_s(audio_s, min_window_s) == pytest.approx(window_s)


def test_compression_ratio_flags_a_decoder_loop_not_a_sentence() -> None:
    assert compression_ratio("") == 0.0
    assert compression_ratio("Wait, stop. Does Tuesday work for you?") < 2.4
    assert compression_ratio("So, so, " * 40) > 2.4


def test_transcriber_errors_clearly_before_load_and_on_bad_input(tmp_path: Path) -> None:
    t = WhisperTranscriber(model_path=tmp_path)
    with pytest.raises(RuntimeError, match="load"):
        t.transcribe(np.zeros(16000, dtype=np.float32))
    with pytest.raises(Exception, match="model.bin"):
        t.load()
    with pytest.raises(ValueError, match="mono"):
        transcribe_timeline(t, np.zeros((10, 2), dtype=np.float32))


def test_stream_requires_prewarm() -> None:
    with pytest.raises(RuntimeError, match="prewarm"):
        LocalSTT().stream()


@pytest.fixture(scope="module")
def whisper() -> WhisperTranscriber:
    t = WhisperTranscriber()
    t.load()
    return t


def _clip() -> np.ndarray:
    audio, rate = sf.read(CLIP, dtype="float32")
    assert rate == SR
    # half a second of silence before and after, as in a live stream
    pad = np.zeros(SR // 2, dtype=np.float32)
    return np.concatenate([pad, audio, pad])


@pytest.mark.slow
def test_timeline_gives_interims_then_finals_with_measured_latency(
    whisper: WhisperTranscriber,
) -> None:
    # one segment (the clip's comma pauses are < 0.6 s): its first interim is never skipped,
    # whatever the machine's load
    updates = transcribe_timeline(whisper, _clip(), interim_interval_s=0.3, min_silence_s=0.6)
    assert not updates[0].is_final
    finals = [u for u in updates if u.is_final]
    text = " ".join(u.text for u in finals).lower()
    assert "tuesday" in text and "stop" in text
    for u in updates:
        # availability = covered audio + real inference (never earlier than the audio)
        assert u.at_s >= u.audio_end_s + u.inference_s - 1e-9
        assert u.inference_s > 0
    assert [u.at_s for u in updates] == sorted(u.at_s for u in updates)
    # each segment's interims come before its final
    last = finals[-1]
    assert all(u.at_s <= last.at_s for u in updates)


def _frames(audio: np.ndarray, frame_n: int = 320) -> list[rtc.AudioFrame]:
    pcm = (audio * 32767).astype(np.int16)
    return [
        rtc.AudioFrame(pcm[i : i + frame_n].tobytes(), SR, 1, frame_n)
        for i in range(0, pcm.size - frame_n + 1, frame_n)
    ]


@pytest.mark.slow
async def test_local_stt_recognizes_a_buffer(whisper: WhisperTranscriber) -> None:
    engine = LocalSTT(transcriber=whisper)
    ev = await engine.recognize(_frames(_clip()))
    assert ev.type is stt.SpeechEventType.FINAL_TRANSCRIPT
    assert "tuesday" in ev.alternatives[0].text.lower()


@pytest.mark.slow
async def test_local_stt_streams_interim_then_final_events(whisper: WhisperTranscriber) -> None:
    engine = LocalSTT(transcriber=whisper, min_silence_s=0.6)
    engine.prewarm()
    stream = engine.stream()
    for frame in _frames(_clip()):
        stream.push_frame(frame)
    stream.end_input()
    events = [ev async for ev in stream]
    kinds = [ev.type for ev in events]
    assert kinds[0] is stt.SpeechEventType.START_OF_SPEECH
    assert stt.SpeechEventType.INTERIM_TRANSCRIPT in kinds
    first_interim = kinds.index(stt.SpeechEventType.INTERIM_TRANSCRIPT)
    last_final = len(kinds) - 1 - kinds[::-1].index(stt.SpeechEventType.FINAL_TRANSCRIPT)
    assert first_interim < last_final
    assert kinds[-1] is stt.SpeechEventType.END_OF_SPEECH
    finals = " ".join(
        ev.alternatives[0].text for ev in events if ev.type is stt.SpeechEventType.FINAL_TRANSCRIPT
    ).lower()
    assert "tuesday" in finals


@pytest.mark.slow
def test_backchannel_words_survive_transcription(whisper: WhisperTranscriber) -> None:
    audio, rate = sf.read(
        Path(__file__).parent / "fixtures" / "sim" / "uh_huh_16k.flac", dtype="float32"
    )
    assert rate == SR
    pad = np.zeros(SR // 2, dtype=np.float32)
    text = whisper.transcribe(np.concatenate([pad, audio, pad])).lower()
    assert "uh" in text and "huh" in text


@pytest.mark.slow
def test_short_window_transcribes_like_the_full_window() -> None:
    full = WhisperTranscriber(min_window_s=30.0)
    full.load()
    short = WhisperTranscriber()
    short.load()
    clip = _clip()
    for audio in (clip, clip[: int(1.5 * SR)], clip[: int(2.5 * SR)]):
        want = full.transcribe(audio).lower().split()
        got = short.transcribe(audio).lower().split()
        # the same words up to punctuation; whisper may differ on one word at a cut edge
        shared = len({w.strip(".,?!") for w in want} & {w.strip(".,?!") for w in got})
        assert shared >= len(want) - 1, (want, got)
    assert short.calls == 3 and full.full_window_calls == 3
    assert short.full_window_calls < short.calls


@pytest.mark.slow
def test_an_interim_never_waits_for_the_full_window(whisper: WhisperTranscriber) -> None:
    # the first 0.3 s of "two two three" fails the short window's checks (measured
    # 2026-11-30: the full-window re-decode took 1.2 s and blocked the stream's final)
    from sim.audio import load_clip

    audio = load_clip(Path(__file__).parent.parent / "sim/assets/user/number_part2.flac", SR)
    head = np.asarray(audio, dtype=np.float32)[: int(0.3 * SR)]
    full_before, skipped_before = whisper.full_window_calls, whisper.skipped_interims
    assert whisper.transcribe(head, interim=True) == ""
    assert whisper.skipped_interims == skipped_before + 1
    assert whisper.full_window_calls == full_before
    # a final of the same audio still gets the full-window decode
    whisper.transcribe(head)
    assert whisper.full_window_calls == full_before + 1
