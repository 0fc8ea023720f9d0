"""The early audio classifier's training pieces, on synthetic data (no corpus, no TTS)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from livekit.plugins.turntaking.arbiter.onset import CHUNK_S, N_BANDS, OnsetModel

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ
from bench.training.onset import (
    HORIZONS_S,
    featurize,
    fit,
    noise_clips,
    onset_of,
    perturb,
    place,
    roc_report,
    sound_burst,
    training_clips,
)

RATE = BENCH_SAMPLE_RATE_HZ


def vowel(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 12))
    return (0.2 * x / np.abs(x).max()).astype(np.float32)


def test_roc_report_counts_recall_at_fixed_false_alarms() -> None:
    neg = np.linspace(0.0, 1.0, 100)
    pos = np.array([0.5, 2.0, 3.0, 4.0])
    r = roc_report(np.concatenate([neg, pos]), np.r_[np.zeros(100), np.ones(4)])
    assert r["auc"] == pytest.approx((0.5 + 3 * 1.0) / 4, abs=0.01)
    assert r["recall@0.01"] == 0.75  # only the three above every negative
    assert roc_report(np.array([0.1]), np.array([1.0])) == {}


def test_the_onset_is_where_the_speech_detector_reports_it() -> None:
    np_rng = np.random.default_rng(1)
    x = place(vowel(0.5, 140.0), np_rng)
    at = onset_of(x)
    lead = int(np.argmax(np.abs(x) > 0.01))
    assert at is not None and abs(at - lead) <= 0.02 * RATE
    assert onset_of(np.zeros(RATE, np.float32)) is None


def test_perturbed_clips_and_bursts_stay_16_khz_audio_in_range() -> None:
    np_rng = np.random.default_rng(2)
    speech = vowel(0.6, 120.0)
    others = [vowel(0.8, 200.0), vowel(0.7, 90.0)]
    for _ in range(12):
        y = perturb(speech, others, np_rng)
        assert y.dtype == np.float32 and np.isfinite(y).all()
        assert float(np.abs(y).max()) <= 1.0
        # lead 0.3-0.8 s + speech (warped +-8 %) + 0.6 s tail
        assert 1.3 * RATE < len(y) < 2.1 * RATE
    for _ in range(12):
        b = sound_burst(np_rng)
        assert 0.1 * RATE <= len(b) <= 0.7 * RATE and float(np.abs(b).max()) <= 0.31


def test_fit_learns_to_tell_two_sounds_apart_at_every_horizon() -> None:
    np_rng = np.random.default_rng(3)
    feats: dict[float, list[np.ndarray]] = {h: [] for h in HORIZONS_S}
    ys = []
    for k in range(80):
        # "interruptions" open on a high voice, "backchannels" on a low one
        y = k % 2
        f = featurize(place(vowel(0.5, 220.0 if y else 100.0), np_rng))
        assert f is not None and [len(v) for v in f] == [
            int(round(h / CHUNK_S)) * N_BANDS for h in HORIZONS_S
        ]
        ys.append(float(y))
        for h, v in zip(HORIZONS_S, f, strict=True):
            feats[h].append(v)
    y_arr = np.array(ys)
    model = OnsetModel({h: fit(np.stack(feats[h]), y_arr, np_rng) for h in HORIZONS_S})
    for h in HORIZONS_S:
        scores = np.array([model.logit_features(h, v) for v in feats[h]])
        assert roc_report(scores, y_arr)["auc"] > 0.95, h


def test_training_clips_perturb_every_render_of_every_item_with_its_label() -> None:
    from types import SimpleNamespace

    from bench.datasets.derive import OverlapSpec

    picked = cast(
        list[OverlapSpec],
        [SimpleNamespace(label="backchannel"), SimpleNamespace(label="interruption")],
    )
    speech = [vowel(0.3, 120.0), np.zeros(0, np.float32)]  # the second item's Piper render failed
    espoken = [vowel(0.3, 200.0), vowel(0.4, 150.0)]
    clips = list(training_clips(picked, speech, espoken, np.random.default_rng(6), copies=2))
    assert [y for _, y in clips] == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    assert all(len(c) > 1.1 * RATE for c, _ in clips)  # placed: lead + speech + tail
    bursts = list(noise_clips(3, np.random.default_rng(7)))
    # placed like speech: at least 0.3 s of lead before the burst, 0.6 s of tail after it
    assert len(bursts) == 3 and all(len(b) >= 1.0 * RATE for b in bursts)
    assert all(float(np.abs(b[: int(0.3 * RATE)]).max()) < 1e-3 for b in bursts)
