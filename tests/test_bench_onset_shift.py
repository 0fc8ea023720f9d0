"""The sub-frame alignment check (`bench.onset_shift`) on synthetic audio."""

from __future__ import annotations

import numpy as np
import pytest

from bench.onset_shift import offsets_samples, scores_at_offsets
from tests.test_arbiter_onset import random_model, tone, with_lead


def test_offsets_split_one_detector_frame_evenly() -> None:
    assert offsets_samples(4) == [0, 80, 160, 240]
    assert offsets_samples(1) == [0]
    with pytest.raises(ValueError, match="offsets"):
        offsets_samples(0)
    with pytest.raises(ValueError, match="offsets"):
        offsets_samples(321)


def test_aligned_windows_score_a_shifted_sound_alike_and_grid_windows_do_not() -> None:
    # a rising tone: where the window starts changes what it sees
    body = tone(0.6) * np.linspace(0.1, 1.0, int(0.6 * 16_000), dtype=np.float32)
    x = with_lead(8000, body)
    pads = offsets_samples(8)

    def spread(aligned: bool) -> float:
        per = scores_at_offsets(random_model(aligned=aligned), x, pads)
        assert per is not None and len(per) == len(pads)
        p = np.array([[s.probability for s in scores] for scores in per])
        return float(np.ptp(p, axis=0).max())

    assert spread(aligned=True) < 0.2 * spread(aligned=False)
    assert scores_at_offsets(random_model(), np.zeros(16_000, np.float32), pads) is None
