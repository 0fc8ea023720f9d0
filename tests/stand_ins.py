"""Stand-ins shared by several test files (imported by name: pytest puts tests/ on the path)."""

from __future__ import annotations

import hashlib

import numpy as np

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples
from bench.datasets.render import Renderer


class StandInVoice(Renderer):
    """Deterministic phrases: a tone per text, about 0.3 s per word times `length_scale`."""

    def load(self) -> None:
        pass

    def phrase(self, text: str, *, length_scale: float = 1.0) -> Samples:
        n = int(0.3 * BENCH_SAMPLE_RATE_HZ * len(text.split()) * length_scale)
        f = 100 + int(hashlib.sha1(text.encode()).hexdigest()[:4], 16) % 400
        t = np.arange(n, dtype=np.float32) / BENCH_SAMPLE_RATE_HZ
        return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)
