"""The front end's noise-floor gate on literal feature timelines, and on synthetic audio
through the whole front end (speech detector included)."""

from __future__ import annotations

import numpy as np
import pytest
from livekit.plugins.turntaking.arbiter.frontend import (
    ANALYSIS_FRAME_S,
    MIN_NOISE_GATE_MARGIN_DB,
    NOISE_FLOOR_WINDOW_S,
    NOISE_GATE_MARGIN_DB,
    NOISE_GATE_WARMUP_S,
    NOISE_SPREAD_MARGIN_DB,
    NOISE_STEP_S,
    QUIET_FLOOR_DBFS,
    ArbiterFrontEnd,
    NoiseFloorGate,
)
from livekit.plugins.turntaking.arbiter.model import VOICED_MAX_ZCR, AudioFeatures, frame_features

DT = ANALYSIS_FRAME_S
VOICED_ZCR = 0.1


def _frame(level_dbfs: float) -> AudioFeatures:
    return AudioFeatures(level_dbfs, VOICED_ZCR, DT)


def _feed(gate: NoiseFloorGate, levels: list[float], start_s: float = 0.0) -> list[bool]:
    """Voiced verdicts of consecutive frames at `levels` from stream time `start_s`."""
    return [gate.gate(_frame(lv), start_s + (k + 1) * DT).voiced for k, lv in enumerate(levels)]


def test_steady_babble_at_a_voiced_level_is_held_back_after_the_warm_up() -> None:
    gate = NoiseFloorGate()
    babble = [-40.0 + 3.0 * np.sin(k) for k in range(200)]  # 4 s, voiced by level alone
    voiced = _feed(gate, babble)
    assert _frame(-40.0).voiced  # the absolute test would call every frame speech
    assert not any(voiced)
    assert gate.floor_dbfs == pytest.approx(-40.0, abs=2.0)


def _babble_levels(n: int, *, median_dbfs: float = -45.0) -> list[float]:
    # rises and falls like speech: a fifth of the frames 12 dB over the median
    return [median_dbfs + (12.0 if k % 5 == 0 else 0.0) + 0.5 * np.sin(k) for k in range(n)]


def test_the_user_is_heard_over_the_babble_and_the_floor_ignores_them() -> None:
    gate = NoiseFloorGate()
    _feed(gate, _babble_levels(100))
    floor = gate.floor_dbfs
    assert gate.margin_db == NOISE_GATE_MARGIN_DB  # babble keeps the full margin
    speech = _feed(gate, [floor + NOISE_GATE_MARGIN_DB + 2.0] * 50, start_s=100 * DT)
    assert all(speech)
    assert gate.floor_dbfs == floor  # 1 s of speech did not raise it
    # under the margin it is still noise
    assert not any(_feed(gate, [floor + NOISE_GATE_MARGIN_DB - 2.0] * 5, start_s=150 * DT))


def test_steady_noise_needs_less_margin_than_babble() -> None:
    steady, babble = NoiseFloorGate(), NoiseFloorGate()
    _feed(steady, [-45.0 + 0.5 * np.sin(k) for k in range(100)])  # an engine, a fan
    _feed(babble, _babble_levels(100))
    assert steady.margin_db == pytest.approx(NOISE_SPREAD_MARGIN_DB, abs=1.0)
    assert steady.margin_db >= MIN_NOISE_GATE_MARGIN_DB
    # a voice 10 dB over a steady noise is heard; 10 dB over babble it is not
    assert all(_feed(steady, [steady.floor_dbfs + 10.0] * 5, start_s=100 * DT))
    assert not any(_feed(babble, [babble.floor_dbfs + 10.0] * 5, start_s=100 * DT))


def test_in_a_quiet_room_soft_speech_passes() -> None:
    gate = NoiseFloorGate()
    assert gate.floor_dbfs == QUIET_FLOOR_DBFS
    warm = round(NOISE_GATE_WARMUP_S / DT)
    _feed(gate, [-100.0] * warm)  # digital silence sets no floor
    assert gate.floor_dbfs == QUIET_FLOOR_DBFS
    assert all(_feed(gate, [-44.0] * 10, start_s=warm * DT))


def test_nothing_is_voiced_in_the_warm_up() -> None:
    gate = NoiseFloorGate()
    warm = round(NOISE_GATE_WARMUP_S / DT)
    assert not any(_feed(gate, [-20.0] * warm, start_s=50.0))  # any stream origin
    assert gate.gate(_frame(-20.0), 50.0 + (warm + 1) * DT).voiced is False  # floor -20


def test_a_room_that_gets_louder_moves_the_floor() -> None:
    gate = NoiseFloorGate()
    _feed(gate, [-65.0] * 100)
    steps = round((NOISE_STEP_S + NOISE_FLOOR_WINDOW_S + 0.5) / DT)
    voiced = _feed(gate, [-40.0] * steps, start_s=100 * DT)
    first_quiet = voiced.index(False)
    assert all(voiced[:first_quiet])
    # speech-like for at most the step time plus half the floor window, then noise again
    assert first_quiet * DT <= NOISE_STEP_S + NOISE_FLOOR_WINDOW_S / 2 + 0.1
    assert not any(voiced[first_quiet:])


def test_noise_like_frames_are_left_as_they_are() -> None:
    gate = NoiseFloorGate()
    hiss = AudioFeatures(-30.0, VOICED_MAX_ZCR + 0.1, DT)
    out = gate.gate(hiss, DT)
    assert out == hiss


def _tone(seconds: float, level_dbfs: float, rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    # a voice-like tone: 180 Hz and its harmonics up to 3.6 kHz, falling as 1/k
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    x = sum(np.sin(2 * np.pi * 180.0 * k * t) / k for k in range(1, 21))
    x = x * (1 + 0.3 * np.sin(2 * np.pi * 4.0 * t))
    x *= 10 ** (level_dbfs / 20) / np.sqrt(np.mean(x**2))
    return (x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)


def _babble(
    seconds: float, level_dbfs: float, rate_hz: int, rng: np.random.Generator
) -> np.ndarray:
    # a sum of low, slowly wobbling tones: voiced by zero crossings, steady in level
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    x = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) * (1 + 0.2 * np.sin(2 * np.pi * m * t))
        for f, m in ((140, 3.1), (210, 4.3), (170, 5.7), (250, 2.2))
    )
    x = x / np.sqrt(np.mean(x**2)) * 10 ** (level_dbfs / 20)
    return np.asarray(x, dtype=np.float32)


def test_the_front_end_opens_no_speech_on_babble_and_one_run_on_the_user() -> None:
    rng = np.random.default_rng(7)
    rate = 16_000
    noise = _babble(4.0, -42.0, rate, rng)
    user = np.zeros_like(noise)
    at = int(2.0 * rate)
    user[at : at + int(0.6 * rate)] = _tone(0.6, -22.0, rate, rng)
    starts = [
        f.edge[1]
        for f in ArbiterFrontEnd().clip(noise + user, rate)
        if f.edge is not None and f.edge[0] == "start"
    ]
    assert len(starts) == 1 and starts[0] == pytest.approx(2.0, abs=0.1)
    # negative control: by the absolute voicing test alone the babble is speech throughout
    n = int(DT * rate)
    absolute = [frame_features(noise[k : k + n], rate).voiced for k in range(0, len(noise), n)]
    assert np.mean(absolute) > 0.8
    assert not [f for f in ArbiterFrontEnd().clip(noise, rate) if f.features.voiced]


def test_the_speech_band_level_reads_a_voice_and_not_a_rumble() -> None:
    rate, n = 16_000, int(DT * 16_000)
    t = np.arange(n) / rate
    for hz, in_band in ((1000.0, True), (3000.0, True), (60.0, False), (150.0, False)):
        f = frame_features((0.1 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)
        if in_band:
            assert f.band_dbfs == pytest.approx(f.level_dbfs, abs=0.5)
        else:
            assert f.band_dbfs is not None and f.band_dbfs < f.level_dbfs - 40.0
    # white noise: the band holds 3100 of its 8000 Hz, 4.1 dB under the whole
    white = np.random.default_rng(3).standard_normal(50 * n).astype(np.float32) * 0.05
    bands = [frame_features(white[k : k + n], rate) for k in range(0, len(white), n)]
    drop = np.mean([f.level_dbfs - (f.band_dbfs or 0.0) for f in bands])
    assert drop == pytest.approx(10 * np.log10(8000 / 3100), abs=0.7)
    assert AudioFeatures(-30.0, 0.1, DT).floor_level_dbfs == -30.0  # unmeasured: whole band
    plain = frame_features(white[:n], rate, speech_band=False)  # no FFT where it is not used
    assert plain.band_dbfs is None and plain.floor_level_dbfs == plain.level_dbfs
    assert plain.voiced == bands[0].voiced and plain.level_dbfs == bands[0].level_dbfs


def _rumble_frame(band_dbfs: float, level_dbfs: float = -30.0) -> AudioFeatures:
    return AudioFeatures(level_dbfs, VOICED_ZCR, DT, band_dbfs)


def test_in_steady_low_noise_a_voice_is_held_to_the_speech_band_floor() -> None:
    gate = NoiseFloorGate()
    # an engine: loud over the whole band, 25 dB weaker in the speech band, steady
    for k in range(100):
        gate.gate(_rumble_frame(-55.0 + 0.5 * np.sin(k)), (k + 1) * DT)
    assert gate.in_speech_band
    assert gate.band_floor_dbfs == pytest.approx(-55.0, abs=1.0)
    assert gate.floor_dbfs == pytest.approx(-30.0, abs=1.0)
    # a caller 6 dB over the engine's whole-band level, with its energy in the speech band
    voice = AudioFeatures(-24.0, VOICED_ZCR, DT, -25.0)
    assert all(gate.gate(voice, (100 + k + 1) * DT).voiced for k in range(10))
    # negative control: the same frames measured over the whole band only are held back
    whole = NoiseFloorGate()
    for k in range(100):
        whole.gate(AudioFeatures(-30.0 + 0.5 * np.sin(k), VOICED_ZCR, DT), (k + 1) * DT)
    plain = AudioFeatures(-24.0, VOICED_ZCR, DT)
    assert not any(whole.gate(plain, (100 + k + 1) * DT).voiced for k in range(10))


def test_babble_that_rises_and_falls_in_the_speech_band_is_held_over_the_whole_band() -> None:
    gate = NoiseFloorGate()
    levels = _babble_levels(100)
    for k, lv in enumerate(levels):
        gate.gate(_rumble_frame(lv - 3.0, lv), (k + 1) * DT)
    assert not gate.in_speech_band
    assert gate.floor_dbfs == pytest.approx(np.median(levels), abs=1.0)
    assert gate.margin_db == NOISE_GATE_MARGIN_DB


def test_a_voice_over_car_rumble_opens_one_run_through_the_front_end() -> None:
    rng = np.random.default_rng(11)
    rate = 16_000
    # rumble: white noise low-passed at 100 Hz (-24 dB per octave), at -30 dBFS
    white = rng.standard_normal(int(4.0 * rate))
    freqs = np.fft.rfftfreq(len(white), 1.0 / rate)
    rumble = np.fft.irfft(np.fft.rfft(white) / (1.0 + (freqs / 100.0) ** 4), len(white))
    rumble = (rumble / np.sqrt(np.mean(rumble**2)) * 10 ** (-30.0 / 20)).astype(np.float32)
    user = np.zeros_like(rumble)
    at = int(2.0 * rate)
    user[at : at + int(0.6 * rate)] = _tone(0.6, -24.0, rate, rng)  # 6 dB over the rumble
    starts = [
        f.edge[1]
        for f in ArbiterFrontEnd().clip(rumble + user, rate)
        if f.edge is not None and f.edge[0] == "start"
    ]
    assert len(starts) == 1 and starts[0] == pytest.approx(2.0, abs=0.1)
    assert not [f for f in ArbiterFrontEnd().clip(rumble, rate) if f.features.voiced]
