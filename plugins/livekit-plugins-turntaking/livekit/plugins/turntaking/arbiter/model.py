"""Backchannel-or-interruption decision logic, pure numpy (no LiveKit import, no clock).

While the agent speaks and the user starts talking, `ArbiterDecider` decides whether the
user's speech is a backchannel ("uh huh", "right": the agent keeps talking) or a true
interruption ("wait", "no, the blue one", a question: the agent stops). Evidence, in the
order it arrives:

- audio from the onset (`AudioFeatures` per 10-20 ms frame: level and voicing), giving the
  voiced duration so far: sustained speech becomes an interruption (later when the early
  audio classifier heard a backchannel in its first syllables, sooner when it leaned
  towards an interruption without being sure), and mere sound that never
  turns into words (a cough, a door) never stops the agent;
- the early audio classifier (`onset.OnsetModel`, pushed as probabilities): the first
  0.12-0.4 s of sound alone can stop the agent when it is confident;
- the streaming transcript (interim and final hypotheses), scored by `TextModel`, a
  hashed-feature logistic regression over the user's words so far and the end of the
  agent's words, trained on prefixes of real backchannels and floor-taking utterances
  (MRDA and Switchboard train splits);
- context: when the agent's words so far end with a question, whatever the user says is an
  answer that takes the turn;
- echo (optional, from `echo.EchoGate`): frames explained by the agent's own audio coming
  back are no evidence of the user's speech, and a transcript made only of the agent's own
  words over such frames is no evidence of an interruption.

While undecided the agent keeps talking. A stop on audio evidence alone pauses the agent
until the words settle it: an acknowledgement ("oh okay", "I see") resumes it and stays a
backchannel; anything else confirms the interruption. Every method takes the stream time as
an argument (seconds, any origin shared by all calls), so tests feed literal timelines.
"""

from __future__ import annotations

import functools
import json
import math
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from .echo import EchoVerdict, transcript_is_echo

__all__ = [
    "DATA_DIR",
    "MODEL_FILE",
    "PARAMS_FILE",
    "ArbiterDecider",
    "ArbiterParams",
    "ArbiterState",
    "ACKNOWLEDGEMENT_WORDS",
    "BASE_ACKNOWLEDGEMENTS",
    "TRAIN_ACKNOWLEDGEMENTS",
    "AudioFeatures",
    "ModelFileError",
    "OverlapEvent",
    "TextModel",
    "VoiceActivity",
    "acknowledgement_only",
    "frame_features",
    "load_params",
    "normalize_words",
    "text_features",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
REINSTALL_HINT = "reinstall livekit-plugins-turntaking"
"""What a user does about a missing or broken shipped model file."""
MODEL_FILE = "text_model.npz"
PARAMS_FILE = "params.json"

HASH_DIM = 1 << 15
"""Number of hashed text-feature buckets of `TextModel`."""
SILENCE_DBFS = -100.0
"""Level reported for an all-zero frame, dBFS."""
VOICED_MIN_DBFS = -45.0
"""A frame quieter than this is never voiced, dBFS (room noise, far echo)."""
VOICED_MAX_ZCR = 0.35
"""Zero-crossing rate (crossings per sample) above which a frame is noise-like, not voiced."""
SPEECH_BAND_HZ = (300.0, 3400.0)
"""The band of `AudioFeatures.band_dbfs`, Hz: where a voice's energy is and a telephone
passes it, while engine rumble, traffic, wind and mains hum put most of theirs below it."""
VOICE_END_SILENCE_S = 0.3
"""`VoiceActivity` ends a run of speech after this long without a speech frame, seconds."""
DUCK_RELEASE_S = 0.12
"""An undecided overlap keeps the agent ducked until the user's voice has been silent this
long, seconds: longer than the gaps inside one word, short enough that a backchannel's duck
ends about when the sound does (val backchannels: 0.30 s of voice at the median, 0.66 s at
the 95th percentile)."""
ECHO_RUN_GAP_S = 0.5
"""With echo in an overlap, the user's own speech is measured from the start of its latest
run; a run ends after this long without a voiced non-echo frame, seconds (longer than the
pauses between words, so stray frames the echo gate missed never add up)."""
CONTEXT_WORDS = 2
"""Agent words (at the end of its text so far) the text model sees."""
PAUSE_LIMIT_S = 3.0
"""A pause (`ArbiterState.PAUSED`) still unsettled this long after it began becomes an
interruption whatever the words: the user has held the floor for seconds."""
BASE_ACKNOWLEDGEMENTS = (
    "uh huh mm hmm yeah yes right okay sure i see oh wow really true exactly got it "
    "alright all cool nice good great hm mhm"
)
"""The hand-set acknowledgement words ("uh huh", "oh I see", "got it", "alright")."""
TRAIN_ACKNOWLEDGEMENTS = (
    "mmm um that's ah interesting absolutely fine ooh agree hum y idea definitely"
)
"""Words added from the train splits by `python -m bench.training.acknowledgements` (greedy: each
makes at least 5 train backchannels acknowledgement-only, and few interruptions:
"that's right", "interesting", "I agree", "um", "mmm")."""
ACKNOWLEDGEMENT_WORDS = frozenset((BASE_ACKNOWLEDGEMENTS + " " + TRAIN_ACKNOWLEDGEMENTS).split())
"""Words an acknowledgement is made of: a finished utterance of only these words is a
backchannel, never a turn, when the agent did not ask a question (see
`ArbiterParams.confirm_audio_stops`). The same list is the plain word-list rule the
benchmark reports beside the arbiter."""

OverlapLabel = Literal["backchannel", "interruption"]


class ModelFileError(RuntimeError):
    """The shipped model or parameter file is missing or malformed."""


@contextmanager
def reading_npz(path: Path, what: str, rebuild_module: str) -> Iterator[None]:
    """Turn any failure to read or parse the .npz `path` inside the block into a
    `ModelFileError` naming the file, the cause and the command that rebuilds it."""
    try:
        yield
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"cannot read arbiter {what} {path}: {exc}; {REINSTALL_HINT} (in the "
            f"repository, `python -m {rebuild_module}` rebuilds it)"
        ) from exc


class ArbiterState(Enum):
    """Where the decider is in the current overlap."""

    IDLE = "idle"
    """The agent is silent, or it speaks and the user does not."""
    LISTENING = "listening"
    """The user started speaking over the agent; undecided (the agent keeps talking)."""
    BACKCHANNEL = "backchannel"
    """Decided: the overlap was a backchannel; the agent keeps the floor."""
    INTERRUPTION = "interruption"
    """Decided: the user takes the floor; the agent must stop."""
    PAUSED = "paused"
    """Audio evidence alone (early audio, sustained speech) stopped the agent before its
    words were in: its audio is paused, not cleared. Once the utterance is over, its words
    confirm the interruption, or show an acknowledgement, which resumes the agent (a
    backchannel after all). Words with content confirm it at once."""


@dataclass(frozen=True)
class AudioFeatures:
    """Per-frame audio features of the user's input."""

    level_dbfs: float
    """RMS level, dB relative to full scale (<= 0)."""
    zcr: float
    """Zero-crossing rate, crossings per sample (0..1)."""
    duration_s: float
    """Frame length, seconds."""
    band_dbfs: float | None = None
    """Level in the speech band (`SPEECH_BAND_HZ`), dB relative to full scale (<= 0); None:
    not measured, `level_dbfs` stands for it."""

    @property
    def floor_level_dbfs(self) -> float:
        """The level held against a noise floor, dBFS: the speech band's where measured (a
        voice clears low-pitched noise there by far more than in the whole band)."""
        return self.level_dbfs if self.band_dbfs is None else self.band_dbfs

    @property
    def voiced(self) -> bool:
        """Loud enough and tonal enough to be speech rather than silence or hiss."""
        return self.level_dbfs >= VOICED_MIN_DBFS and self.zcr <= VOICED_MAX_ZCR


def frame_features(
    samples: npt.NDArray[np.float32], sample_rate_hz: int, *, speech_band: bool = True
) -> AudioFeatures:
    """Features of one mono float frame in [-1, 1] (10-20 ms recommended); `speech_band`:
    also measure `AudioFeatures.band_dbfs` (an FFT per frame; only the noise gate uses it,
    `voiced` does not)."""
    if sample_rate_hz <= 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        raise ValueError("empty audio frame: push frames of at least one sample")
    # a microphone's DC offset is neither level nor voicing: without this it reads as loud,
    # zero-crossing-free "speech" in every frame
    x = x - np.float32(x.mean())
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    level = 20.0 * math.log10(rms) if rms > 0 else SILENCE_DBFS
    signs = np.signbit(x)
    zcr = float(np.count_nonzero(signs[1:] != signs[:-1])) / max(1, x.size - 1)
    return AudioFeatures(
        level_dbfs=max(level, SILENCE_DBFS),
        zcr=zcr,
        duration_s=x.size / sample_rate_hz,
        band_dbfs=_band_level_dbfs(x, sample_rate_hz) if speech_band else None,
    )


@functools.lru_cache(maxsize=8)
def _band_analysis(size: int, sample_rate_hz: int) -> tuple[npt.NDArray[np.float64], slice, float]:
    """(Hann window, rfft bins of `SPEECH_BAND_HZ`, power scale) for frames of `size`."""
    w = np.hanning(size + 2)[1:-1]
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate_hz)
    lo, hi = SPEECH_BAND_HZ
    inside = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    bins = slice(int(inside[0]), int(inside[-1]) + 1) if inside.size else slice(0, 0)
    # one-sided spectrum: each bin but DC and Nyquist stands for two
    return w, bins, 2.0 / (size * float(np.sum(w * w)))


def _band_level_dbfs(x: npt.NDArray[np.float32], sample_rate_hz: int) -> float:
    """RMS level of `x` within `SPEECH_BAND_HZ` (Hann-windowed spectrum, scaled so that a
    full-band signal reads its RMS level), dBFS."""
    w, bins, scale = _band_analysis(x.size, sample_rate_hz)
    spec = np.fft.rfft(x * w)[bins]
    power = scale * float(np.sum(spec.real**2 + spec.imag**2))
    return 10.0 * math.log10(power) if power > 1e-10 else SILENCE_DBFS


class VoiceActivity:
    """Energy-and-voicing speech detector over `AudioFeatures` frames, for when no VAD
    events are available (the benchmark's classifier mode). A frame counts as speech when
    it is voiced and `margin_db` above the running noise floor; speech starts after
    `start_s` of such frames (reported at the first of them) and ends after `end_silence_s`
    without them (reported when detected)."""

    def __init__(
        self,
        *,
        start_s: float = 0.06,
        end_silence_s: float = VOICE_END_SILENCE_S,
        margin_db: float = 12.0,
    ) -> None:
        if not 0.0 < start_s <= 0.5:
            raise ValueError(f"start_s must be in (0, 0.5] s, got {start_s}")
        if not 0.05 <= end_silence_s <= 2.0:
            raise ValueError(f"end_silence_s must be in [0.05, 2] s, got {end_silence_s}")
        if not 0.0 <= margin_db <= 40.0:
            raise ValueError(f"margin_db must be in [0, 40] dB, got {margin_db}")
        self.start_s = start_s
        self.end_silence_s = end_silence_s
        self.margin_db = margin_db
        self.floor_dbfs = -70.0
        self.speaking = False
        self._run_s = 0.0
        self._run_start_s = 0.0
        self._quiet_s = 0.0

    def push(self, features: AudioFeatures, now_s: float) -> tuple[str, float] | None:
        """Feed one frame ending at `now_s`; returns ("start", onset_s) or ("end", now_s)
        when the speaking state flips, else None."""
        speechy = features.voiced and features.level_dbfs >= self.floor_dbfs + self.margin_db
        if not speechy:
            # the floor follows quiet frames quickly and loud ones never
            self.floor_dbfs += 0.05 * (max(features.level_dbfs, -90.0) - self.floor_dbfs)
        if self.speaking:
            self._quiet_s = 0.0 if speechy else self._quiet_s + features.duration_s
            if self._quiet_s >= self.end_silence_s:
                self.speaking = False
                self._run_s = 0.0
                return ("end", now_s)
            return None
        if speechy:
            if self._run_s == 0.0:
                self._run_start_s = now_s - features.duration_s
            self._run_s += features.duration_s
            if self._run_s >= self.start_s - 1e-9:
                self.speaking = True
                self._quiet_s = 0.0
                return ("start", self._run_start_s)
        else:
            self._run_s = 0.0
        return None


_SPELLINGS = {
    "ok": "okay",
    "o_k": "okay",
    "k": "okay",
    "mhm": "mm hmm",
    "mmhmm": "mm hmm",
    "mm-hmm": "mm hmm",
    "uh-huh": "uh huh",
    "uhhuh": "uh huh",
    "yep": "yeah",
    "yup": "yeah",
    "yah": "yeah",
    # the recogniser's spelling of a filler the corpora write "um"
    "umm": "um",
}
_WORD_RE = re.compile(r"[a-z0-9']+")


def normalize_words(text: str) -> list[str]:
    """Lower-case words of a transcript or corpus text, punctuation dropped, common
    spellings of acknowledgement tokens unified ("Mm-hmm." -> "mm hmm", "OK" -> "okay")."""
    out: list[str] = []
    for raw in text.lower().split():
        tok = raw.strip('.,!?;:"()[]{}')
        tok = _SPELLINGS.get(tok, tok)
        out.extend(_WORD_RE.findall(tok.replace("-", " ").replace("_", " ")))
    return [_SPELLINGS.get(w, w) for w in out]


def acknowledgement_only(words: Sequence[str]) -> bool:
    """Whether `words` (normalised, see `normalize_words`) are at least one word and all
    in `ACKNOWLEDGEMENT_WORDS`."""
    return bool(words) and all(w in ACKNOWLEDGEMENT_WORDS for w in words)


def text_features(user_words: Sequence[str], agent_words: Sequence[str]) -> list[str]:
    """Feature strings of the user's words so far given the agent's words so far."""
    n = len(user_words)
    feats = [f"n:{min(n, 6)}"]
    if n == 0:
        return feats
    feats.append(f"f:{user_words[0]}")
    feats.append(f"l:{user_words[-1]}")
    feats.extend(f"u:{w}" for w in user_words)
    feats.extend(f"b:{a}_{b}" for a, b in zip(user_words, user_words[1:], strict=False))
    if n <= 3:
        feats.append("x:" + "_".join(user_words))
    tail = list(agent_words[-CONTEXT_WORDS:])
    if tail:
        feats.append(f"al:{tail[-1]}")
        feats.append("al2:" + "_".join(tail))
        feats.append(f"fa:{user_words[0]}|{tail[-1]}")
    return feats


def _hash(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % HASH_DIM


def hashed_indices(features: Sequence[str]) -> npt.NDArray[np.int64]:
    """Bucket indices of feature strings (duplicates kept: counts add up)."""
    return np.fromiter((_hash(f) for f in features), dtype=np.int64, count=len(features))


class TextModel:
    """P(interruption | user words so far, agent words so far): logistic regression over
    hashed word features. Load the shipped weights with `TextModel.load()`."""

    def __init__(self, weights: npt.NDArray[np.float32], bias: float) -> None:
        if weights.shape != (HASH_DIM,):
            raise ModelFileError(
                f"text model weights must have shape ({HASH_DIM},), got {weights.shape}"
            )
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)

    @classmethod
    def load(cls, path: Path | None = None) -> TextModel:
        """Read weights from an .npz (default: the shipped `data/text_model.npz`)."""
        p = path or DATA_DIR / MODEL_FILE
        with reading_npz(p, "text model", "bench.training.arbiter"), np.load(p) as z:
            return cls(np.asarray(z["weights"]), float(z["bias"]))

    def save(self, path: Path) -> None:
        """Write the weights as a compressed .npz."""
        np.savez_compressed(path, weights=self.weights, bias=np.float32(self.bias))

    def logit(self, user_words: Sequence[str], agent_words: Sequence[str]) -> float:
        """Log-odds of interruption (natural log)."""
        idx = hashed_indices(text_features(user_words, agent_words))
        return float(self.weights[idx].sum()) + self.bias

    def probability(self, user_text: str, agent_text: str = "") -> float:
        """P(interruption) of a raw transcript given the agent's raw text so far (0..1)."""
        z = self.logit(normalize_words(user_text), normalize_words(agent_text))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class ArbiterParams:
    """Operating point of the decider. The defaults are the shipped point, chosen on the
    val split by `python -m bench.training.arbiter` and written to `data/params.json` with
    its selection report; `load_params()` reads that file (a test keeps the two equal)."""

    interrupt_threshold: float = 0.8
    """P(interruption) of an interim or final hypothesis at which the agent stops (0..1)."""
    final_threshold: float = 0.3
    """P(interruption) of the last hypothesis, once the user stopped, that still makes it an
    interruption (0..1); below it the overlap is a backchannel."""
    sustained_speech_s: float = 0.9
    """Span from the onset to the latest voiced frame of the still-running speech after
    which the overlap is an interruption whatever the words, seconds (backchannels are
    short)."""
    sustained_audio_floor: float = 0.0
    """Early audio P(interruption) (`OverlapEvent.onset_probability`, the mean of the
    onset's horizons) below which sustained speech sounds like a long backchannel ("yeah,
    that's true", "alright alright") and stops the agent only after `long_backchannel_s`
    (0..1; 0 = no gate; without an early score there is no gate either)."""
    long_backchannel_s: float = 2.0
    """Span after which even speech that sounds like a backchannel stops the agent,
    seconds (never earlier than `sustained_speech_s`)."""
    quick_audio_threshold: float = 0.9
    """Early audio P(interruption) (the onset's mean, as for the floor) at or above which
    running speech stops the agent after `quick_speech_s` instead of `sustained_speech_s`
    (0..1; 1 = never): a doubtful first syllable that keeps going is an interruption
    sooner than one that sounds like a backchannel."""
    quick_speech_s: float = 0.18
    """Span of running speech that stops the agent when the early audio reaches
    `quick_audio_threshold`, seconds (0.1-10; never later than `sustained_speech_s`)."""
    min_voiced_s: float = 0.12
    """Voiced speech required before any interruption, seconds (clicks never stop it)."""
    short_speech_s: float = 0.8
    """Utterances with less voiced speech than this, seconds, need `interrupt_threshold`
    rather than `final_threshold` when settled (speech-to-text hallucinates words on hums)."""
    short_threshold: float = 1.0
    """P(interruption) that words need when the user's speech so far is shorter than
    `short_speech_s` (0..1; 1 = words alone never stop on a hum-length sound)."""
    final_wait_s: float = 0.8
    """After the user's speech ends, how long to wait for a transcript before settling with
    what is known, seconds (no words at all: mere sound, a backchannel)."""
    question_answer: bool = True
    """When the agent's words so far end with "?", the first words answer it and stop it."""
    early_threshold: float = 0.99
    """P(interruption) from the first fraction of a second of audio (`onset.OnsetModel`,
    the mean over the horizons scored so far since the onset) at which the agent stops
    before any words arrive (0..1; 1 = never on audio alone)."""
    short_audio_threshold: float = 0.7
    """Speech shorter than `short_speech_s` whose latest early audio P(interruption) is at
    least this needs only `interrupt_threshold` from its words, not `short_threshold`
    (0..1; 1 = never): the sound of "but" or "no" vouches for a word that a hum would not
    (speech-to-text invents words on hums)."""
    confirm_audio_stops: bool = True
    """A stop on audio evidence alone (the early audio, sustained speech, before any word
    with content) pauses the agent instead of interrupting it (`ArbiterState.PAUSED`). The
    words then settle it: any word outside `ACKNOWLEDGEMENT_WORDS`, an answer to the
    agent's question, no words at all, no final transcript that arrived after the last
    voiced frame (within `pause_wait_s` of the speech's end), or a pause longer than
    `PAUSE_LIMIT_S` confirm the interruption; a finished utterance of acknowledgement words
    only resumes the agent, and it is a backchannel (no user turn, no LLM call). False:
    such stops interrupt at once."""
    pause_on_acknowledgement: bool = True
    """A stop by the words rule while every word so far is an acknowledgement ("oh okay":
    the text model is sure, but the words could still be a backchannel) pauses the agent
    like a stop on audio evidence (see `confirm_audio_stops`, which must be on too) instead
    of interrupting it: the next word with content confirms it at the same stop time, a
    finished acknowledgement resumes the agent. False: such stops interrupt at once."""
    resume_threshold: float = 0.1
    """P(interruption) of a paused overlap's words (the text model, with the agent's words
    so far) under which they resume the agent even when some are not acknowledgement words
    ("which makes sense", "Oh. Goodness."), 0..1; words with content at or above it confirm the
    interruption as soon as they arrive. 0 = only acknowledgement words resume."""
    interim_confirm_threshold: float = 0.8
    """P(interruption) an *interim* hypothesis's words need to confirm a pause (0..1; the
    higher of this and `resume_threshold` applies; 1 = only a final confirms). The agent is
    already stopped while paused, so waiting for the final moves only the verdict, not the
    stop: an interim "Like, right." of "right right right" must not confirm it."""
    resume_silence_s: float = 0.3
    """A pause resumes the agent only once the user's speech has been over this long (after
    the speech detector's own end-of-speech silence), seconds (0-3): a gap inside one
    utterance ("Oh. ... so what about") must not resume it between the acknowledgement and
    the rest."""
    pause_wait_s: float = 0.8
    """While the agent is paused, how long after the user's speech ends to wait for a final
    transcript that covers it before the stop stands ("no_words", "no_final"), seconds
    (0-3, not beyond `PAUSE_LIMIT_S`). The stop time is the pause's either way: a longer
    wait delays only the verdict, and lets a slow recogniser's "Okay." resume the agent."""

    def __post_init__(self) -> None:
        for name in (
            "interrupt_threshold",
            "final_threshold",
            "short_threshold",
            "early_threshold",
            "short_audio_threshold",
            "sustained_audio_floor",
            "quick_audio_threshold",
            "resume_threshold",
            "interim_confirm_threshold",
        ):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if not 0.1 <= self.sustained_speech_s <= 10.0:
            raise ValueError(
                f"sustained_speech_s must be in [0.1, 10] s, got {self.sustained_speech_s}"
            )
        if not 0.1 <= self.long_backchannel_s <= 10.0:
            raise ValueError(
                f"long_backchannel_s must be in [0.1, 10] s, got {self.long_backchannel_s}"
            )
        if not 0.1 <= self.quick_speech_s <= 10.0:
            raise ValueError(f"quick_speech_s must be in [0.1, 10] s, got {self.quick_speech_s}")
        if not 0.0 <= self.min_voiced_s <= 1.0:
            raise ValueError(f"min_voiced_s must be in [0, 1] s, got {self.min_voiced_s}")
        if not 0.0 <= self.short_speech_s <= 5.0:
            raise ValueError(f"short_speech_s must be in [0, 5] s, got {self.short_speech_s}")
        if not 0.0 <= self.final_wait_s <= 5.0:
            raise ValueError(f"final_wait_s must be in [0, 5] s, got {self.final_wait_s}")
        if not 0.0 <= self.resume_silence_s <= 3.0:
            raise ValueError(f"resume_silence_s must be in [0, 3] s, got {self.resume_silence_s}")
        if not 0.0 <= self.pause_wait_s <= PAUSE_LIMIT_S:
            raise ValueError(
                f"pause_wait_s must be in [0, {PAUSE_LIMIT_S}] s, got {self.pause_wait_s}"
            )


def load_params(path: Path | None = None) -> ArbiterParams:
    """Read the operating point (default: the shipped `data/params.json`)."""
    p = path or DATA_DIR / PARAMS_FILE
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        return ArbiterParams(**raw["params"])
    except (OSError, KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise ModelFileError(
            f"cannot read arbiter parameters {p}: {exc}; {REINSTALL_HINT} (in the "
            "repository, `python -m bench.training.arbiter` rebuilds them)"
        ) from exc


def params_dict(params: ArbiterParams) -> dict[str, object]:
    """The parameters as a JSON-able dict."""
    return asdict(params)


@dataclass(frozen=True)
class OverlapEvent:
    """The verdict on one overlap (user speech while the agent talks)."""

    label: OverlapLabel
    probability: float
    """P(interruption) from the words at the decision (0..1; 0.5 when no words yet)."""
    cues: tuple[str, ...]
    """What decided: "early_audio" (the first fraction of a second of sound), "words",
    "final_words", "sustained_speech", "answer_to_question", "no_words" (mere sound). After
    a pause (`paused_at_s` set) the first cue is the one that paused the agent and the
    second what settled it: "words", "answer_to_question", "no_words", "no_final" (no final
    transcript after the speech ended), "pause_limit", "unpausable" (confirmed),
    "acknowledgement" or "unlikely_words" (resumed, see `ArbiterParams.resume_threshold`).
    Plus "echo" when frames of the overlap were discounted as the agent's own voice coming
    back."""
    onset_s: float
    """Stream time of the user's speech onset, seconds."""
    decided_at_s: float
    """Stream time of the decision, seconds."""
    word_count: int = 0
    """Words in the user's transcript at the decision (the text itself is not kept)."""
    echo_s: float = 0.0
    """Voiced input discounted as the agent's echo during the overlap, seconds."""
    echo_lag_s: float | None = None
    """Echo delay measured on the last echo frame, seconds (None: no echo frame)."""
    echo_correlation: float | None = None
    """Echo-to-reference correlation on the last echo frame (None: no echo frame)."""
    onset_probability: float | None = None
    """P(interruption) of the early audio classifier: the mean of the latest onset's
    horizons scored by the decision (0..1; None: not scored)."""
    paused_at_s: float | None = None
    """Stream time at which audio evidence paused the agent before the words settled the
    overlap, seconds (None: never paused). With label "backchannel" the agent was paused
    and resumed at `decided_at_s`; with "interruption" it stopped at this time."""

    @property
    def latency_s(self) -> float:
        """Onset to decision, seconds."""
        return self.decided_at_s - self.onset_s

    @property
    def stopped_at_s(self) -> float | None:
        """Stream time at which the agent's audio stopped (paused or interrupted), seconds;
        None when it kept talking throughout."""
        if self.paused_at_s is not None:
            return self.paused_at_s
        return self.decided_at_s if self.label == "interruption" else None

    @property
    def stop_latency_s(self) -> float | None:
        """Onset to the moment the agent's audio stopped, seconds (None: it never did)."""
        stopped = self.stopped_at_s
        return None if stopped is None else stopped - self.onset_s


@dataclass
class _Overlap:
    onset_s: float
    voiced_s: float = 0.0
    last_voiced_s: float | None = None
    ended_at_s: float | None = None
    words: list[str] = field(default_factory=list)
    probability: float | None = None
    echo_s: float = 0.0
    echo_lag_s: float | None = None
    echo_correlation: float | None = None
    echo_transcripts: int = 0
    run_start_s: float | None = None
    early_scores: list[float] = field(default_factory=list)
    early_horizon_s: float = 0.0
    paused_at_s: float | None = None
    pause_cue: str = ""
    final_at_s: float | None = None
    """Stream time of the latest final transcript with words, seconds."""
    runs: int = 1
    """Runs of speech in the overlap (speech that resumed before the verdict adds one)."""
    finals: int = 0
    """Final transcripts with words received in the overlap."""

    @property
    def final_seen(self) -> bool:
        """Whether a final transcript with words has arrived."""
        return self.finals > 0

    @property
    def onset_probability(self) -> float | None:
        """Mean of the latest onset's early audio scores (None: not scored)."""
        return sum(self.early_scores) / len(self.early_scores) if self.early_scores else None


class DuckFollower:
    """Whether the agent's voice is ducked, following `ArbiterDecider.duck_wanted` (pure):
    the live arbiter and the benchmark's replay step the same rules."""

    def __init__(self) -> None:
        self.ducked = False

    def step(self, decider: ArbiterDecider, now_s: float) -> Literal["duck", "restore"] | None:
        """The change due at stream time `now_s`, if any. Nothing changes while the decider
        is PAUSED: the agent is silent anyway, a resume restores its level and a stop clears
        its audio."""
        if decider.state is ArbiterState.PAUSED:
            return None
        want = decider.duck_wanted(now_s)
        if want == self.ducked:
            return None
        self.ducked = want
        return "duck" if want else "restore"


class ArbiterDecider:
    """Per-session state machine; feed it events in stream order.

    Each `on_*`/`push_*`/`tick` call returns the `OverlapEvent` when that call decided the
    current overlap, else None. `state` tells where it is.
    """

    def __init__(self, model: TextModel, *, params: ArbiterParams | None = None) -> None:
        self.model = model
        self.params = params or ArbiterParams()
        self._state = ArbiterState.IDLE
        self._agent_speaking = False
        self._agent_words: list[str] = []
        self._agent_question = False
        self._ov: _Overlap | None = None
        self.last_event: OverlapEvent | None = None
        self.last_transcript_echo = False
        """Whether the last `on_transcript` was taken as the agent's echo (and ignored)."""

    @property
    def state(self) -> ArbiterState:
        """Current state."""
        return self._state

    @property
    def paused_at_s(self) -> float | None:
        """Stream time at which the current overlap paused the agent, seconds (None: not
        in `ArbiterState.PAUSED`)."""
        ov = self._ov
        return ov.paused_at_s if self._state is ArbiterState.PAUSED and ov is not None else None

    @property
    def echo_dominated(self) -> bool:
        """An undecided overlap whose voiced input so far is mostly the agent's echo."""
        ov = self._ov
        return (
            self._state is ArbiterState.LISTENING
            and ov is not None
            and ov.echo_s > 0.0
            and ov.echo_s >= ov.voiced_s
        )

    def is_agent_echo_text(self, text: str) -> bool:
        """Whether every word of `text` (at least one) is among the agent's words of its
        current (or last) reply: what the agent's echo would be transcribed as."""
        return transcript_is_echo(normalize_words(text), self._agent_words)

    def duck_wanted(self, now_s: float) -> bool:
        """Whether the agent's voice should be ducked at `now_s`: the overlap is undecided
        (LISTENING), the user's own voice (not the agent's echo; the caller's frames are
        held to the noise floor) was heard within the last `DUCK_RELEASE_S`, and it
        outweighs the echo heard in the overlap. The duck follows the voice: a
        backchannel's ends a moment after the sound does, long before its words settle it;
        speech that goes on is paused or stopped by the decision."""
        ov = self._ov
        if self._state is not ArbiterState.LISTENING or ov is None or ov.last_voiced_s is None:
            return False
        return now_s - ov.last_voiced_s < DUCK_RELEASE_S - 1e-9 and ov.voiced_s >= ov.echo_s

    @property
    def user_speaking(self) -> bool:
        """Whether an undecided (or paused) overlap's speech is going on: started and not
        reported ended since."""
        ov = self._ov
        return (
            self._state in (ArbiterState.LISTENING, ArbiterState.PAUSED)
            and ov is not None
            and ov.ended_at_s is None
        )

    @property
    def agent_speaking(self) -> bool:
        """Whether the agent is currently speaking (as last reported)."""
        return self._agent_speaking

    def reset(self) -> None:
        """Forget the current overlap and the agent's context."""
        self._state = ArbiterState.IDLE
        self._agent_speaking = False
        self._agent_words = []
        self._agent_question = False
        self._ov = None

    # ------------------------------------------------------------------ agent side

    def on_agent_speech(self, text_so_far: str, at_s: float) -> None:
        """The agent is speaking; `text_so_far` is what it has said of this reply."""
        del at_s  # context only: the decision times come from the user's events
        self._agent_speaking = True
        self._agent_words = normalize_words(text_so_far)
        self._agent_question = text_so_far.rstrip().endswith("?")

    def on_agent_speech_end(self, at_s: float) -> None:
        """The agent stopped speaking (finished or was interrupted)."""
        del at_s
        self._agent_speaking = False
        if self._state in (
            ArbiterState.LISTENING,
            ArbiterState.PAUSED,
            ArbiterState.INTERRUPTION,
        ):
            # no overlap left to arbitrate: the user's speech is an ordinary turn now
            self._state = ArbiterState.IDLE
            self._ov = None

    # ------------------------------------------------------------------ user side

    def on_user_speech_start(self, at_s: float) -> OverlapEvent | None:
        """The user's voice started (from a VAD); opens an overlap if the agent speaks."""
        match self._state:
            case ArbiterState.LISTENING | ArbiterState.PAUSED:
                if self._ov is not None:
                    # speech resumed before the overlap was settled: the same overlap goes on
                    if self._ov.ended_at_s is not None:
                        self._ov.runs += 1
                    self._ov.ended_at_s = None
                return None
            case ArbiterState.INTERRUPTION:
                return None
            case ArbiterState.IDLE | ArbiterState.BACKCHANNEL:
                if not self._agent_speaking:
                    self._state = ArbiterState.IDLE
                    return None
                self._state = ArbiterState.LISTENING
                self._ov = _Overlap(onset_s=at_s)
                return None

    def push_audio_features(
        self, features: AudioFeatures, now_s: float, echo: EchoVerdict | None = None
    ) -> OverlapEvent | None:
        """One frame of the user's audio ending at `now_s`. With `echo` saying the frame is
        the agent's own voice coming back, a voiced frame counts as echo, not speech."""
        ov = self._ov
        if self._state not in (ArbiterState.LISTENING, ArbiterState.PAUSED) or ov is None:
            return None
        if features.voiced and ov.ended_at_s is None:
            if echo is not None and echo.is_echo:
                ov.echo_s += features.duration_s
                ov.echo_lag_s = echo.lag_s
                ov.echo_correlation = echo.correlation
            else:
                last = ov.last_voiced_s
                if last is None or now_s - last > ECHO_RUN_GAP_S + features.duration_s:
                    ov.run_start_s = now_s - features.duration_s
                ov.voiced_s += features.duration_s
                ov.last_voiced_s = now_s
        return self.tick(now_s)

    def push_onset_probability(
        self,
        probability: float,
        horizon_s: float,
        now_s: float,
        *,
        voiced_s: float | None = None,
    ) -> OverlapEvent | None:
        """P(interruption) of the first `horizon_s` seconds of the user's audio after the
        onset (`onset.OnsetModel`), known at `now_s`; `voiced_s` is the voiced sound in that
        window, seconds (it may start before this overlap's onset, which a VAD reports
        late). Scores of one onset come with growing horizons; a horizon no longer than the
        previous one starts a new onset (speech resumed). When the mean of the onset's
        scores so far reaches `early_threshold` it stops the agent (one confident horizon
        among doubtful ones is not enough), unless there is too little voiced sound to be
        speech or the agent's echo in the overlap outweighs the user's own voiced sound
        (the model never heard echo)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        ov = self._ov
        if self._state is not ArbiterState.LISTENING or ov is None:
            return None
        if ov.early_scores and horizon_s <= ov.early_horizon_s:
            ov.early_scores = []
        ov.early_scores.append(probability)
        ov.early_horizon_s = horizon_s
        mean = sum(ov.early_scores) / len(ov.early_scores)
        p = self.params
        voiced = ov.voiced_s if voiced_s is None else max(ov.voiced_s, voiced_s)
        if (
            p.early_threshold < 1.0
            and mean >= p.early_threshold
            and voiced >= p.min_voiced_s
            # the model never heard echo: the user's own sound must outweigh it
            and ov.echo_s <= ov.voiced_s
            and ov.ended_at_s is None
        ):
            return self._stop_on_audio(now_s, "early_audio")
        return self.tick(now_s)

    def on_transcript(
        self, text: str, is_final: bool, now_s: float, *, continues_turn: bool = False
    ) -> OverlapEvent | None:
        """A speech-to-text hypothesis of the user's current utterance (full text so far).
        `continues_turn`: the user's turn was committed a moment ago and they went on
        speaking before or just as the reply became audible (the endpointing's
        `ContinuationGuard`): words other than an acknowledgement, or any question ("Right?"),
        are the rest of their turn, an interruption (cue "continuation") whatever the text
        model says, since it learnt backchannels against replies well under way, not a
        sentence's tail."""
        self.last_transcript_echo = False
        ov = self._ov
        if self._state not in (ArbiterState.LISTENING, ArbiterState.PAUSED) or ov is None:
            return None
        words = normalize_words(text)
        if not words:
            return self.tick(now_s)
        self.last_transcript_echo = self.echo_dominated and transcript_is_echo(
            words, self._agent_words
        )
        if self.last_transcript_echo:
            # the speech-to-text heard the agent's own voice coming back: no user words
            ov.echo_transcripts += 1
            return self.tick(now_s)
        if is_final and ov.final_seen:
            # a further final of the same overlap continues the utterance
            words = ov.words + words
        ov.words = words
        if is_final:
            ov.final_at_s = now_s
            ov.finals += 1
        ov.probability = self._prob(words)
        p = self.params
        # a tag question ("..., right?") asks the agent something: the user's, not a nod
        asked = text.rstrip().endswith("?")
        if continues_turn and (asked or not acknowledgement_only(words)):
            if self._state is ArbiterState.PAUSED:
                return self._confirm(now_s, "continuation")
            return self._decide("interruption", now_s, ("continuation",))
        if self._state is ArbiterState.PAUSED:
            if p.question_answer and self._agent_question:
                return self._confirm(now_s, "answer_to_question")
            needed = p.resume_threshold
            if not is_final:
                needed = max(needed, p.interim_confirm_threshold)
            if not acknowledgement_only(words) and ov.probability >= needed:
                return self._confirm(now_s, "words")
            return self.tick(now_s)
        if p.question_answer and self._agent_question:
            return self._decide("interruption", now_s, ("answer_to_question",))
        needed = p.interrupt_threshold
        if ov.voiced_s < p.short_speech_s:
            needed = max(needed, self._short_needed())
        if ov.probability >= needed and ov.voiced_s >= p.min_voiced_s:
            if p.pause_on_acknowledgement and acknowledgement_only(words):
                return self._stop_on_audio(now_s, "words")
            return self._decide("interruption", now_s, ("words",))
        return self.tick(now_s)

    def on_user_speech_end(self, at_s: float) -> OverlapEvent | None:
        """The user's voice stopped (from a VAD)."""
        ov = self._ov
        if self._state not in (ArbiterState.LISTENING, ArbiterState.PAUSED) or ov is None:
            return None
        ov.ended_at_s = at_s
        return self.tick(at_s)

    def tick(self, now_s: float) -> OverlapEvent | None:
        """Apply the time-based rules at `now_s` (call it on every frame or timer)."""
        ov = self._ov
        if self._state is ArbiterState.PAUSED and ov is not None:
            return self._settle_pause(ov, now_s)
        if self._state is not ArbiterState.LISTENING or ov is None:
            return None
        p = self.params
        start = ov.onset_s
        if ov.echo_s > 0.0 and ov.run_start_s is not None:
            # the onset was (partly) the agent's echo: measure the user's own run of speech
            start = max(start, ov.run_start_s)
        span = ov.last_voiced_s - start if ov.last_voiced_s is not None else 0.0
        if ov.ended_at_s is None and span >= self._sustained_needed_s() - 1e-9:
            return self._stop_on_audio(now_s, "sustained_speech")
        if ov.ended_at_s is None:
            return None
        if ov.final_seen or now_s - ov.ended_at_s >= p.final_wait_s:
            if not ov.words:
                return self._decide("backchannel", now_s, ("no_words",))
            prob = ov.probability if ov.probability is not None else 0.5
            short = ov.voiced_s < p.short_speech_s
            needed = (
                max(p.interrupt_threshold, self._short_needed()) if short else p.final_threshold
            )
            if prob >= needed and ov.voiced_s >= p.min_voiced_s:
                return self._decide("interruption", now_s, ("final_words",))
            return self._decide("backchannel", now_s, ("final_words",))
        return None

    def confirm_pause(self, now_s: float) -> OverlapEvent | None:
        """Make a pause (`ArbiterState.PAUSED`) the interruption now, e.g. because the
        agent's audio cannot be paused; None when not paused."""
        ov = self._ov
        if self._state is not ArbiterState.PAUSED or ov is None:
            return None
        return self._confirm(now_s, "unpausable")

    # ------------------------------------------------------------------ internals

    def _stop_on_audio(self, now_s: float, cue: str) -> OverlapEvent | None:
        """Audio evidence alone says stop: pause (see `confirm_audio_stops`), or interrupt at
        once when pausing is off or the words so far already have content."""
        ov = self._ov
        assert ov is not None  # only called while LISTENING
        if not self.params.confirm_audio_stops or (ov.words and not acknowledgement_only(ov.words)):
            return self._decide("interruption", now_s, (cue,))
        ov.paused_at_s = now_s
        ov.pause_cue = cue
        self._state = ArbiterState.PAUSED
        return None

    def _settle_pause(self, ov: _Overlap, now_s: float) -> OverlapEvent | None:
        """The time-based rules while paused: words with content that the text model
        calls an interruption already confirmed it in `on_transcript`, so a settled
        utterance has acknowledgement words, unlikely words (`resume_threshold`) or none."""
        assert ov.paused_at_s is not None
        if now_s - ov.paused_at_s >= PAUSE_LIMIT_S - 1e-9:
            return self._confirm(now_s, "pause_limit")
        if ov.ended_at_s is None:
            return None
        # the words have heard the whole utterance only when a final came after its last
        # voiced frame and there are as many finals as runs of speech: "Okay." finalised
        # while the user went on ("... I'm going to have a key", val), or "Yeah." of the
        # first run arriving after the second ("yeah ... did it", test) is not the utterance
        covered = (
            ov.final_at_s is not None
            and (ov.last_voiced_s is None or ov.final_at_s >= ov.last_voiced_s)
            and ov.finals >= ov.runs
        )
        if not covered and now_s - ov.ended_at_s < self.params.pause_wait_s - 1e-9:
            return None
        if not ov.words:
            # no words to show it was an acknowledgement: the stop stands, as it would
            # without pausing (a turn with late words is never dropped)
            return self._confirm(now_s, "no_words")
        if not covered:
            return self._confirm(now_s, "no_final")
        if now_s - ov.ended_at_s < self.params.resume_silence_s - 1e-9:
            return None
        settled = "acknowledgement" if acknowledgement_only(ov.words) else "unlikely_words"
        return self._decide("backchannel", now_s, (ov.pause_cue, settled))

    def _confirm(self, now_s: float, cue: str) -> OverlapEvent:
        ov = self._ov
        assert ov is not None
        return self._decide("interruption", now_s, (ov.pause_cue, cue))

    def _sustained_needed_s(self) -> float:
        """Span of running speech that stops the agent (see `sustained_audio_floor` and
        `quick_audio_threshold`), s."""
        p = self.params
        ov = self._ov
        audio = ov.onset_probability if ov is not None else None
        if audio is not None and audio < p.sustained_audio_floor:
            return max(p.long_backchannel_s, p.sustained_speech_s)
        if p.quick_audio_threshold < 1.0 and audio is not None and audio >= p.quick_audio_threshold:
            return min(p.quick_speech_s, p.sustained_speech_s)
        return p.sustained_speech_s

    def _short_needed(self) -> float:
        """P(interruption) the words of a short utterance need (see `short_audio_threshold`)."""
        p = self.params
        ov = self._ov
        audio = ov.onset_probability if ov is not None else None
        if p.short_audio_threshold < 1.0 and audio is not None and audio >= p.short_audio_threshold:
            return p.interrupt_threshold
        return p.short_threshold

    def _prob(self, words: Sequence[str]) -> float:
        z = self.model.logit(words, self._agent_words)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def _decide(self, label: OverlapLabel, now_s: float, cues: tuple[str, ...]) -> OverlapEvent:
        ov = self._ov
        assert ov is not None  # only called while LISTENING or PAUSED
        if ov.echo_s > 0.0 or ov.echo_transcripts:
            cues = (*cues, "echo")
        ev = OverlapEvent(
            label=label,
            probability=ov.probability if ov.probability is not None else 0.5,
            cues=cues,
            onset_s=ov.onset_s,
            decided_at_s=now_s,
            word_count=len(ov.words),
            echo_s=ov.echo_s,
            echo_lag_s=ov.echo_lag_s,
            echo_correlation=ov.echo_correlation,
            onset_probability=ov.onset_probability,
            paused_at_s=ov.paused_at_s,
        )
        match label:
            case "interruption":
                self._state = ArbiterState.INTERRUPTION
            case "backchannel":
                self._state = ArbiterState.BACKCHANNEL
        self.last_event = ev
        return ev

    def end_interruption(self) -> None:
        """The interruption was acted on (the agent stopped): ready for the next overlap."""
        if self._state is ArbiterState.INTERRUPTION:
            self._state = ArbiterState.IDLE
            self._ov = None
