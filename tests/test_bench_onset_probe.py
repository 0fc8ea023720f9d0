"""The input probe's pieces on literal and synthetic data (no corpus, no TTS, no Whisper)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from livekit.plugins.turntaking.arbiter.onset import N_BANDS, window_s

from bench.onset_probe import REPRESENTATIONS, Split, clip_features, compare, encoder_features
from bench.train_onset import _place
from bench.types import BENCH_SAMPLE_RATE_HZ

RATE = BENCH_SAMPLE_RATE_HZ


def test_encoder_states_are_averaged_over_equal_stretches_of_the_horizon() -> None:
    states = np.arange(50, dtype=np.float32)[:, None] * np.array([[1.0, -1.0]], np.float32)
    # 0.12 s = 6 rows of 20 ms: stretches (0, 1), (2, 3), (4, 5); rows after it are not read
    assert encoder_features(states, 0.12).tolist() == [0.5, -0.5, 2.5, -2.5, 4.5, -4.5]
    with pytest.raises(ValueError, match="do not cover"):
        encoder_features(states[:10], 0.3)
    with pytest.raises(ValueError, match=">= 3 encoder frames"):
        encoder_features(states, 0.04)


def test_every_representation_reads_each_horizon_from_the_aligned_start_and_no_further() -> None:
    t = np.arange(int(0.6 * RATE)) / RATE
    vowel = (0.2 * np.sin(2 * np.pi * 150.0 * t)).astype(np.float32)
    clip = _place(vowel, np.random.default_rng(3))
    seen: list[int] = []

    def encode(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        seen.append(x.size)
        return np.ones((50, 4), np.float32)

    feats = clip_features(clip, (0.12, 0.3), encode)
    assert feats is not None
    assert seen == [int(round(window_s(h) * RATE)) for h in (0.12, 0.3)]
    assert [f.shape for f in feats["log_mel"]] == [(6 * N_BANDS,), (15 * N_BANDS,)]
    assert [f.tolist() for f in feats["whisper_encoder"]] == [[1.0] * 12] * 2
    assert [f.size for f in feats["both"]] == [6 * N_BANDS + 12, 15 * N_BANDS + 12]
    assert clip_features(np.zeros(RATE, np.float32), (0.3,), encode) is None
    assert len(seen) == 2  # no onset: nothing encoded


def _split(n: int, rng: np.random.Generator) -> Split:
    """Interruptions separable in `whisper_encoder` only, at two horizons; `log_mel` is
    noise."""
    s = Split()
    for k in range(n):
        y = float(k % 2)
        enc = [(rng.standard_normal(6) + 1.5 * y).astype(np.float32) for _ in range(2)]
        mel = [rng.standard_normal(6).astype(np.float32) for _ in range(2)]
        both = [np.r_[m, e].astype(np.float32) for m, e in zip(mel, enc, strict=True)]
        s.add({"log_mel": mel, "whisper_encoder": enc, "both": both}, y)
    s.add(None, 1.0)  # a clip without an onset is left out, label and all
    return s


def test_each_representation_is_fitted_per_horizon_and_scored_on_its_own_columns() -> None:
    rng = np.random.default_rng(4)
    report = compare(_split(400, rng), {"val": _split(200, rng)}, (0.12, 0.3), seed=5)
    assert set(report) == set(REPRESENTATIONS)

    def val_auc(r: str, h: str | None) -> float:
        row = report[r]["mean_over_horizons"] if h is None else report[r]["horizons"]
        if h is not None:
            assert isinstance(row, dict)
            row = row[h]
        assert isinstance(row, dict) and row["val"]["n_pos"] == 100
        return float(row["val"]["auc"])

    for h in ("0.12", "0.3"):
        assert val_auc("whisper_encoder", h) > 0.9 and val_auc("both", h) > 0.85
        assert 0.3 < val_auc("log_mel", h) < 0.7
    # two independent looks at the same label: their mean separates better than either
    assert val_auc("whisper_encoder", None) > max(
        val_auc("whisper_encoder", "0.12"), val_auc("whisper_encoder", "0.3")
    )
