"""Train the arbiter's early audio classifier (`turntaking.arbiter.onset.OnsetModel`).

Reproducible: `python -m bench.training.onset --data DIR [--val-manifest M ...]`.

Data (train splits only): overlap items derived from the MRDA and Switchboard `train`
splits with the benchmark's labelling rules (`bench.datasets.derive`), `PER_LABEL` of each label
drawn with a fixed seed. Each item's first `MAX_WORDS` words are rendered twice: with the
benchmark's Piper voice (`bench.datasets.render.Renderer`) at a random speaking rate, and with one
of ten espeak-ng voices (`ESPEAK_VOICES`, male and female, random pitch and rate), so the
network does not learn one voice. Each render is then perturbed `COPIES` times: a random
resampling (pitch and tempo +-`WARP`), then one of a clean channel, the telephone channel
(8 kHz mu-law, as the `telephony` sets), babble of other train renders at 5-20 dB SNR, or
a gain of +-6 dB. `NOISE_SHARE` of the examples are non-speech bursts (band-passed noise
with a cough-like envelope, clicks) labelled as backchannels: mere sound must never look
like an interruption. Every clip is streamed through the arbiter's own front end
(`turntaking.arbiter.frontend.ArbiterFrontEnd`: 20 ms frames, its speech detector), and the
windows start at the sound's rise near the onset it reports
(`turntaking.arbiter.onset.align_onset`), as at run time: the rise moves with the
speech, the reported onset with the detector's 20 ms frame grid.

Model: per horizon (`HORIZONS_S`), a one-hidden-layer tanh network over standardised
features (band energies pooled over `CHUNK_S` chunks), fitted with Adam on the
class-balanced log loss with L2.

Val (when `--val-manifest` is given): the benchmark's val overlap sets (rendered from the
val splits) are scored the same way; the report gives the ROC AUC and the recall at
1 %, 2 % and 5 % backchannel false alarms per horizon. The decider's threshold on this
probability is chosen on val by `bench.training.arbiter`. Test splits are never read.

Writes `onset_model.npz` into the plugin's `turntaking/arbiter/data/` (`--out`); the report
goes to stdout and `onset_report.json` beside it. The voices are synthetic: what the network
learns is the sound of first syllables in eleven synthetic voices, perturbed; real callers
sound different (see docs/arbiter.md, which also gives its scores on held-out espeak-ng
voices).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
from livekit.plugins.turntaking.arbiter.frontend import ArbiterFrontEnd
from livekit.plugins.turntaking.arbiter.model import DATA_DIR
from livekit.plugins.turntaking.arbiter.onset import (
    CHUNK_S,
    ONSET_MODEL_FILE,
    OnsetModel,
    onset_features,
)

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ, Samples, load_audio, resample
from bench.datasets.derive import OverlapSpec, derive_items
from bench.datasets.manifest import refuse_test_manifests
from bench.datasets.render import (
    RENDER_VERSION,
    Renderer,
    add_noise,
    apply_gain_db,
    spec_digest,
    telephony,
)
from bench.evaluation.metrics import auc

SEED = 20261130
PER_LABEL = 3000
"""Train items rendered per label."""
MAX_WORDS = 5
"""Words of an item rendered (only the first half second is ever looked at)."""
COPIES = 2
"""Perturbed copies per rendered item."""
WARP = 0.08
"""Resampling factor range 1 +- WARP (pitch and tempo together)."""
NOISE_SHARE = 0.1
"""Share of extra non-speech examples (labelled backchannel)."""
HORIZONS_S = (0.12, 0.16, 0.2, 0.3, 0.4)
"""Seconds of audio after the onset each network scores (whole numbers of `CHUNK_S`)."""
HIDDEN = 64
EPOCHS = 400
LEARNING_RATE = 3e-3
L2 = 1e-3
LEAD_S = (0.3, 0.8)
"""Silence before the speech in a training clip, seconds (range)."""
TAIL_S = 0.6
DITHER = 1e-4
"""Background noise amplitude of the rendered clips (the sets' leads are near silence)."""

ESPEAK_VOICES = (
    "en-us+m1",
    "en-us+m2",
    "en-us+m4",
    "en-us+m6",
    "en-us+f1",
    "en-us+f2",
    "en-us+f5",
    "en-gb+m2",
    "en-gb+f2",
    "en+klatt",
)
"""espeak-ng voices for the second half of the training speech (en-us+m3, en-us+f3, en+m1
and en-us+f4 are left out: they are the held-out voices of docs/arbiter.md's check)."""
ESPEAK_PITCH = (20, 80)
"""espeak-ng pitch range (its 0-99 scale) drawn per render."""
ESPEAK_WPM = (140, 190)
"""espeak-ng speaking-rate range, words per minute."""

RENDER_CACHE = Path(".cache/bench/onset_train_renders.npz")
"""Default file of the Piper train renders (`render_all`'s cache), shared by the tools that
draw the same train clips."""

_RENDERER: Renderer | None = None


def espeak(text: str, voice: str, *, pitch: int = 50, wpm: int = 165) -> Samples:
    """`text` spoken by espeak-ng `voice` (Debian package `espeak-ng`, a development-time
    tool like Piper), 16 kHz mono float, peak 0.3."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng not found: install the Debian package `espeak-ng`")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.wav"
        subprocess.run(
            [exe, "-v", voice, "-p", str(pitch), "-s", str(wpm), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        x = load_audio(out)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return (x * (0.3 / peak)).astype(np.float32) if peak > 0 else x


def render_espeak(specs: Sequence[OverlapSpec], rng: random.Random) -> list[Samples]:
    """Each spec's first words in a random training espeak-ng voice, pitch and rate."""
    return [
        espeak(
            " ".join(s.text.split()[:MAX_WORDS]),
            rng.choice(ESPEAK_VOICES),
            pitch=rng.randint(*ESPEAK_PITCH),
            wpm=rng.randint(*ESPEAK_WPM),
        )
        for s in specs
    ]


def _render(job: tuple[str, float]) -> Samples:
    global _RENDERER
    if _RENDERER is None:
        _RENDERER = Renderer()
        _RENDERER.load()
    text, length_scale = job
    return _RENDERER.phrase(text, length_scale=length_scale)


def render_all(
    specs: Sequence[OverlapSpec], rng: random.Random, *, workers: int, cache: Path | None
) -> list[Samples]:
    """Render each spec's first words (random speaking rate), in `workers` processes; with
    `cache`, the renders are kept in (and read back from) that .npz, keyed by the jobs."""
    jobs = [(" ".join(s.text.split()[:MAX_WORDS]), rng.uniform(0.85, 1.25)) for s in specs]
    key = spec_digest([RENDER_VERSION, jobs])
    if cache is not None and cache.is_file():
        with np.load(cache) as z:
            if str(z["key"]) == key:
                return [np.asarray(z[f"a{k}"], np.float32) for k in range(len(jobs))]
    with mp.get_context("spawn").Pool(workers) as pool:
        out = list(pool.imap(_render, jobs, chunksize=16))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"a{k}": a for k, a in enumerate(out)}
        np.savez(cache, key=np.array(key), **arrays)  # type: ignore[arg-type]
    return out


def onset_of(x: Samples) -> int | None:
    """Sample index of the onset the arbiter's speech detector reports (None: no speech)."""
    return ArbiterFrontEnd.onset_sample(x, BENCH_SAMPLE_RATE_HZ)


def place(speech: Samples, np_rng: np.random.Generator) -> Samples:
    """`speech` in a training clip: after `LEAD_S` of silence (drawn), with `TAIL_S` after it
    and `DITHER` noise throughout, 16 kHz."""
    lead = int(np_rng.uniform(*LEAD_S) * BENCH_SAMPLE_RATE_HZ)
    tail = int(TAIL_S * BENCH_SAMPLE_RATE_HZ)
    x = np.zeros(lead + len(speech) + tail, dtype=np.float32)
    x[lead : lead + len(speech)] = speech
    x += (DITHER * np_rng.standard_normal(len(x))).astype(np.float32)
    return x


def perturb(speech: Samples, others: Sequence[Samples], np_rng: np.random.Generator) -> Samples:
    """One perturbed training clip (see module doc) at 16 kHz."""
    warp = 1.0 + np_rng.uniform(-WARP, WARP)
    y = resample(speech, int(round(BENCH_SAMPLE_RATE_HZ * warp)), BENCH_SAMPLE_RATE_HZ)
    x = place(y, np_rng)
    match int(np_rng.integers(0, 4)):
        case 0:
            return x
        case 1:
            return resample(telephony(x), 8000, BENCH_SAMPLE_RATE_HZ)
        case 2:
            snr = float(np_rng.uniform(5.0, 20.0))
            return add_noise(x, others, snr_db=snr, seed=int(np_rng.integers(1 << 30)))
        case _:
            return apply_gain_db(x, float(np_rng.choice([-6.0, 6.0])))[0]


def sound_burst(np_rng: np.random.Generator) -> Samples:
    """A non-speech sound: band-passed noise with a fast attack and decay (cough, knock,
    rustle), or a train of clicks."""
    n = int(np_rng.uniform(0.15, 0.7) * BENCH_SAMPLE_RATE_HZ)
    if np_rng.random() < 0.3:
        y = np.zeros(n)
        for pos in np_rng.integers(0, n, size=int(np_rng.integers(2, 8))):
            y[pos : pos + 40] += np_rng.standard_normal(min(40, n - pos))
    else:
        white = np_rng.standard_normal(n)
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1.0 / BENCH_SAMPLE_RATE_HZ)
        lo = np_rng.uniform(100.0, 1500.0)
        hi = lo * np_rng.uniform(1.5, 6.0)
        spec[(f < lo) | (f > hi)] = 0.0
        y = np.fft.irfft(spec, n)
        t = np.arange(n) / n
        y *= np.exp(-t * np_rng.uniform(2.0, 10.0)) * np.minimum(1.0, t * 30.0)
    peak = float(np.abs(y).max()) or 1.0
    return (y * (np_rng.uniform(0.05, 0.3) / peak)).astype(np.float32)


def pick_train_items(data: Path, per_label: int, rng: random.Random) -> list[OverlapSpec]:
    """`per_label` train-split items with words of each label (backchannels first), drawn
    with `rng`."""
    train = derive_items(data, "train")
    picked: list[OverlapSpec] = []
    for label in ("backchannel", "interruption"):
        pool = [s for s in train if s.label == label and s.text.strip()]
        picked.extend(rng.sample(pool, min(per_label, len(pool))))
    return picked


def window_start(x: Samples) -> int | None:
    """Sample index where the classifier's window starts in a 16 kHz clip, as at run time:
    aligned to the rise near the onset the speech detector reports (None: no onset)."""
    return ArbiterFrontEnd.window_start(x, BENCH_SAMPLE_RATE_HZ)


def training_clips(
    picked: Sequence[OverlapSpec],
    speech: Sequence[Samples],
    espoken: Sequence[Samples],
    np_rng: np.random.Generator,
    *,
    copies: int,
) -> Iterator[tuple[Samples, float]]:
    """Each item's Piper render, then its espeak-ng render, perturbed `copies` times (see
    `perturb`; the babble is drawn from the Piper renders), with the item's label (1.0
    interruption, 0.0 backchannel). Empty renders are skipped."""
    babble = [s for s in speech[:: max(1, len(speech) // 64)] if len(s)]
    for spec, s, e in zip(picked, speech, espoken, strict=True):
        y = 1.0 if spec.label == "interruption" else 0.0
        for clip in (s, e):
            if len(clip) == 0:
                continue
            for _ in range(copies):
                yield perturb(clip, babble, np_rng), y


def noise_clips(n: int, np_rng: np.random.Generator) -> Iterator[Samples]:
    """`n` non-speech bursts (`sound_burst`), each placed in a clip as speech is."""
    for _ in range(n):
        yield place(sound_burst(np_rng), np_rng)


def featurize(x: Samples) -> list[npt.NDArray[np.float32]] | None:
    """Features of a 16 kHz clip at every horizon from the aligned window start at its
    detected onset (None: no onset)."""
    start = window_start(x)
    if start is None:
        return None
    return [onset_features(x[start:], BENCH_SAMPLE_RATE_HZ, h, chunk_s=CHUNK_S) for h in HORIZONS_S]


def fit(
    xs: npt.NDArray[np.float32], ys: npt.NDArray[np.float64], np_rng: np.random.Generator
) -> dict[str, npt.NDArray[np.float32]]:
    """One-hidden-layer tanh network, class-balanced log loss + L2, full-batch Adam."""
    mean = xs.mean(axis=0)
    std = xs.std(axis=0) + 1e-3
    z = (xs - mean) / std
    n, d = z.shape
    pos = ys.mean()
    sw = np.where(ys == 1, 0.5 / pos, 0.5 / (1 - pos)) / n
    params = {
        "w1": np_rng.standard_normal((d, HIDDEN)) / np.sqrt(d),
        "b1": np.zeros(HIDDEN),
        "w2": np_rng.standard_normal(HIDDEN) / np.sqrt(HIDDEN),
        "b2": np.zeros(()),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(val) for k, val in params.items()}
    for t in range(1, EPOCHS + 1):
        h = np.tanh(z @ params["w1"] + params["b1"])
        logit = h @ params["w2"] + params["b2"]
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -30, 30)))
        g = (p - ys) * sw
        grads = {
            "w2": h.T @ g + L2 * params["w2"],
            "b2": np.asarray(g.sum()),
        }
        gh = np.outer(g, params["w2"]) * (1.0 - h * h)
        grads["w1"] = z.T @ gh + L2 * params["w1"]
        grads["b1"] = gh.sum(axis=0)
        for k in params:
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            mh = m[k] / (1 - 0.9**t)
            vh = v[k] / (1 - 0.999**t)
            params[k] = params[k] - LEARNING_RATE * mh / (np.sqrt(vh) + 1e-8)
    out = {k: np.asarray(val, np.float32) for k, val in params.items()}
    out["mean"] = mean.astype(np.float32)
    out["std"] = std.astype(np.float32)
    return out


def roc_report(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> dict[str, float]:
    """ROC AUC and recall at fixed false-alarm rates (interruption = positive)."""
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return {}
    # both sides are non-empty, so there is an AUC
    area = cast(float, auc(pos.tolist(), neg.tolist()))
    out = {"auc": area, "n_pos": float(len(pos)), "n_neg": float(len(neg))}
    for fa in (0.01, 0.02, 0.05):
        thr = float(np.quantile(neg, 1.0 - fa))
        out[f"recall@{fa:g}"] = float((pos > thr).mean())
    return out


def val_report(model: OnsetModel, manifests: Sequence[Path]) -> dict[str, object]:
    """Scores of the val overlap sets (see module doc)."""
    from bench.datasets.manifest import load_overlap_manifest
    from bench.evaluation.runners import load_item_audio

    scores: dict[float, list[float]] = {h: [] for h in HORIZONS_S}
    labels: list[float] = []
    skipped = 0
    for man in manifests:
        for item in load_overlap_manifest(man):
            x = load_item_audio(item.audio)
            feats = featurize(x)
            if feats is None:
                skipped += 1
                continue
            labels.append(1.0 if item.label == "interruption" else 0.0)
            for h, f in zip(HORIZONS_S, feats, strict=True):
                scores[h].append(model.logit_features(h, f))
    y = np.array(labels)
    return {
        "manifests": [str(m) for m in manifests],
        "no_onset": skipped,
        "horizons": {f"{h:g}": roc_report(np.array(scores[h]), y) for h in HORIZONS_S},
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.training.onset",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    ap.add_argument("--data", type=Path, required=True, help="shared corpus folder")
    ap.add_argument("--val-manifest", type=Path, action="append", default=[])
    ap.add_argument("--workers", type=int, default=2, help="render processes")
    ap.add_argument("--per-label", type=int, default=PER_LABEL, help="train items per label")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    ap.add_argument(
        "--cache",
        type=Path,
        default=RENDER_CACHE,
        help="where the rendered train speech is kept between runs",
    )
    args = ap.parse_args(argv)
    if refuse_test_manifests(args.val_manifest, "the test split is for final reporting only"):
        return 2
    t0 = time.time()
    rng = random.Random(SEED)
    np_rng = np.random.default_rng(SEED)
    picked = pick_train_items(args.data, args.per_label, rng)
    speech = render_all(picked, rng, workers=args.workers, cache=args.cache)
    espoken = render_espeak(picked, rng)
    t_render = time.time() - t0
    feats: dict[float, list[npt.NDArray[np.float32]]] = {h: [] for h in HORIZONS_S}
    ys: list[float] = []

    def add(x: Samples, y: float) -> None:
        f = featurize(x)
        if f is None:
            return
        ys.append(y)
        for h, v in zip(HORIZONS_S, f, strict=True):
            feats[h].append(v)

    for clip, y in training_clips(picked, speech, espoken, np_rng, copies=COPIES):
        add(clip, y)
    n_noise = int(NOISE_SHARE * len(ys))
    for clip in noise_clips(n_noise, np_rng):
        add(clip, 0.0)
    y_arr = np.array(ys)
    layers = {h: fit(np.stack(feats[h]), y_arr, np_rng) for h in HORIZONS_S}
    model = OnsetModel(layers, aligned=True, chunk_s=CHUNK_S)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / ONSET_MODEL_FILE)
    report: dict[str, object] = {
        "seed": SEED,
        "train_items": {
            lab: sum(s.label == lab for s in picked) for lab in ("backchannel", "interruption")
        },
        "train_examples": len(ys),
        "noise_examples": n_noise,
        "train_fit": {
            f"{h:g}": roc_report(np.array([model.logit_features(h, f) for f in feats[h]]), y_arr)
            for h in HORIZONS_S
        },
        "render_s": round(t_render, 1),
    }
    if args.val_manifest:
        report["val"] = val_report(model, args.val_manifest)
    report["total_s"] = round(time.time() - t0, 1)
    (args.out / "onset_report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
