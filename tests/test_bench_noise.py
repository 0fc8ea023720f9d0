"""The benchmark's noise conditions: generators, the SNR mixer with its level step, and the
`noise` variant's babble kept as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench.datasets.manifest import (
    ManifestError,
    OverlapItem,
    load_overlap_manifest,
    write_overlap_manifest,
)
from bench.datasets.render import (
    MAINS_HZ,
    NOISE_KINDS,
    NOISE_RMS,
    STEP_DB,
    STEP_RAMP_S,
    STEP_SPAN,
    NoiseCondition,
    add_noise,
    apply_condition,
    babble_noise,
    car_noise,
    draw_condition,
    hum_noise,
    make_noise,
    mix_at_snr,
    street_noise,
)

RATE = 16_000


def _speech() -> np.ndarray:
    """1 s of silence, 2 s of a steady tone (the active part), 1 s of silence."""
    t = np.arange(2 * RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * t)
    return np.concatenate([np.zeros(RATE), tone, np.zeros(RATE)]).astype(np.float32)


def _others() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [(0.1 * rng.standard_normal(RATE * k)).astype(np.float32) for k in (1, 2, 3)]


def _noise(kind: str, n: int, seed: int, mains_hz: float = 50.0) -> np.ndarray:
    match kind:
        case "street":
            return street_noise(n, seed=seed)
        case "car":
            return car_noise(n, seed=seed)
        case "hum":
            return hum_noise(n, seed=seed, mains_hz=mains_hz)
        case _:
            return babble_noise(n, _others(), seed=seed)


def _power_spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.fft.rfftfreq(len(x), 1 / RATE), np.abs(np.fft.rfft(x.astype(np.float64))) ** 2


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_each_generator_is_deterministic_per_seed(kind: str) -> None:
    n = 3 * RATE
    a = _noise(kind, n, seed=11)
    assert a.dtype == np.float32 and len(a) == n
    assert np.array_equal(a, _noise(kind, n, seed=11))
    assert not np.array_equal(a, _noise(kind, n, seed=12))
    assert float(np.sqrt(np.mean(a.astype(np.float64) ** 2))) == pytest.approx(NOISE_RMS, rel=1e-3)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_mixer_sets_the_snr_before_the_step_and_steps_by_6_db(kind: str) -> None:
    x = _speech()
    noise = _noise(kind, len(x), seed=3)
    p_speech = float(np.mean(x[RATE : 3 * RATE].astype(np.float64) ** 2))
    step_at_s = 2.2
    flat = mix_at_snr(x, noise, snr_db=15.0, step_at_s=step_at_s, step_db=0.0) - x
    snr = 10 * np.log10(p_speech / float(np.mean(flat.astype(np.float64) ** 2)))
    assert snr == pytest.approx(15.0, abs=0.5)
    a = int(step_at_s * RATE)
    b = int((step_at_s + STEP_RAMP_S) * RATE)
    for step_db in (STEP_DB, -STEP_DB):
        stepped = mix_at_snr(x, noise, snr_db=15.0, step_at_s=step_at_s, step_db=step_db) - x
        # before the step the noise is the unstepped one, after the ramp it is 6 dB off
        assert np.allclose(stepped[:a], flat[:a], atol=1e-6)
        after_db = 10 * np.log10(np.mean(stepped[b:] ** 2) / np.mean(flat[b:] ** 2))
        assert after_db == pytest.approx(step_db, abs=0.1)


def test_steady_noise_level_is_6_db_apart_across_the_step() -> None:
    x = _speech()
    for step_db in (STEP_DB, -STEP_DB):
        y = mix_at_snr(x, car_noise(len(x), seed=4), snr_db=10.0, step_at_s=2.0, step_db=step_db)
        n = (y - x).astype(np.float64)
        before = np.mean(n[: 2 * RATE] ** 2)
        after = np.mean(n[int((2.0 + STEP_RAMP_S) * RATE) :] ** 2)
        assert 10 * np.log10(after / before) == pytest.approx(step_db, abs=1.0)


@pytest.mark.parametrize("seed", range(4))
def test_car_noise_has_most_energy_below_300_hz(seed: int) -> None:
    f, p = _power_spectrum(car_noise(3 * RATE, seed=seed))
    assert p[f < 300].sum() / p.sum() > 0.9


@pytest.mark.parametrize("mains_hz", MAINS_HZ)
def test_hum_peaks_at_the_mains_frequency(mains_hz: float) -> None:
    f, p = _power_spectrum(hum_noise(2 * RATE, seed=9, mains_hz=mains_hz))
    assert f[int(np.argmax(p))] == pytest.approx(mains_hz, abs=0.5)
    with pytest.raises(ValueError, match="mains_hz"):
        hum_noise(RATE, seed=9, mains_hz=55.0)


def test_street_noise_is_coloured_and_moves() -> None:
    y = street_noise(6 * RATE, seed=2).astype(np.float64)
    f, p = _power_spectrum(y)
    # pink to brown: less power per octave going up (1-4 kHz below 62-250 Hz)
    low = p[(f >= 62.5) & (f < 250)].sum()
    high = p[(f >= 1000) & (f < 4000)].sum()
    assert high < low
    frames = 10 * np.log10(np.mean(y.reshape(-1, RATE // 10) ** 2, axis=1))
    assert frames.max() - frames.min() > 2.0


def test_noise_variant_babble_is_unchanged() -> None:
    # digest of this input's `add_noise` output taken before the noise conditions existed
    rng = np.random.default_rng(7)
    x = np.zeros(16000, dtype=np.float32)
    x[4000:12000] = (0.3 * np.sin(np.arange(8000) * 0.07)).astype(np.float32)
    others = [rng.normal(0, 0.1, k).astype(np.float32) for k in (3000, 5000, 7000, 11000, 2000)]
    y = add_noise(x, others, snr_db=20.0, seed=123)
    digest = hashlib.sha256(y.tobytes()).hexdigest()
    assert digest == "73947084598d79afe6d10019c2cc87a55c4fa990cda3aecc2b643bf94e4eb3ba"


def test_draw_condition_shares_the_step_across_kinds() -> None:
    conds = [draw_condition(k, duration_s=3.0, snr_db=10.0, seed=77) for k in NOISE_KINDS]
    assert len({(c.step_at_s, c.step_db) for c in conds}) == 1
    assert len({c.noise_seed for c in conds}) == len(NOISE_KINDS)
    assert [c.mains_hz is not None for c in conds] == [k == "hum" for k in NOISE_KINDS]
    drawn = [draw_condition("hum", duration_s=3.0, snr_db=10.0, seed=s) for s in range(60)]
    assert {c.step_db for c in drawn} == {STEP_DB, -STEP_DB}
    assert {c.mains_hz for c in drawn} == set(MAINS_HZ)
    assert all(STEP_SPAN[0] * 3.0 <= c.step_at_s <= STEP_SPAN[1] * 3.0 for c in drawn)


def test_apply_condition_is_reproducible_from_its_record() -> None:
    x = _speech()
    cond = draw_condition("street", duration_s=len(x) / RATE, snr_db=20.0, seed=5)
    y = apply_condition(x, cond)
    again = NoiseCondition(**{k: getattr(cond, k) for k in cond.__dataclass_fields__})
    assert np.array_equal(y, apply_condition(x, again))
    n = make_noise(len(x), cond)
    assert np.array_equal(n, street_noise(len(x), seed=cond.noise_seed))


def test_bad_noise_inputs_are_refused() -> None:
    x = _speech()
    noise = car_noise(len(x), seed=1)
    with pytest.raises(ValueError, match="samples"):
        mix_at_snr(x, noise[:-1], snr_db=10.0, step_at_s=1.0, step_db=6.0)
    with pytest.raises(ValueError, match="step_at_s"):
        mix_at_snr(x, noise, snr_db=10.0, step_at_s=9.0, step_db=6.0)
    with pytest.raises(ValueError, match="silent"):
        mix_at_snr(np.zeros_like(x), noise, snr_db=10.0, step_at_s=1.0, step_db=6.0)
    with pytest.raises(ValueError, match="kind"):
        draw_condition("rain", duration_s=1.0, snr_db=10.0, seed=1)
    with pytest.raises(ValueError, match="at least one other clip"):
        babble_noise(RATE, [], seed=1)


def test_overlap_manifest_carries_an_optional_snr(tmp_path: Path) -> None:
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"")
    m = tmp_path / "m.jsonl"
    items = [
        OverlapItem("a", audio, "backchannel", 0.5, snr_db=15.0),
        OverlapItem("b", audio, "interruption", 0.5),
    ]
    write_overlap_manifest(m, items)
    lines = m.read_text().splitlines()
    assert '"snr_db": 15.0' in lines[0] and "snr_db" not in lines[1]
    assert [it.snr_db for it in load_overlap_manifest(m)] == [15.0, None]
    m.write_text(lines[0].replace("15.0", '"loud"') + "\n")
    with pytest.raises(ManifestError, match="snr_db"):
        load_overlap_manifest(m)
