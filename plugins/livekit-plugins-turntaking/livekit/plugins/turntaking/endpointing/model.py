"""Adaptive end-of-turn decision logic, pure numpy (no LiveKit import, never reads a clock).

The turn is over when the silence after the user's last word has lasted long enough that,
given what was said and how this speaker usually pauses, a resumption has become unlikely.

- `CompletenessModel`: P(the transcript so far is a whole turn), a hashed-feature logistic
  regression over the turn's last words, trained on MRDA train (text at every real mid-turn
  pause vs text at every real turn end, turns of any length), lowercase and unpunctuated
  like ASR output.
- `SpeakerPauseModel`: the survival curve S(t) = P(a mid-turn pause of this speaker lasts
  longer than t), a prior from MRDA train mixed with the pauses this speaker has made so far.
- Combination: among silences that may end the turn, Bayes gives
  P(end | text, silence >= t) = p / (p + (1 - p) S(t)), with p the end probability from
  text (and optionally an audio end-of-turn model). The turn is committed at the first t
  where that posterior reaches `threshold`, clamped between a floor and a ceiling.
- `AdaptiveEndpointer`: the per-session state machine fed literal timestamps.
"""

from __future__ import annotations

import math
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "DATA_DIR",
    "DEFAULT_CEILING_S",
    "DEFAULT_FLOOR_S",
    "DEFAULT_STT_WAIT_S",
    "DEFAULT_THRESHOLD",
    "FEATURE_VERSION",
    "MAX_PATIENCE",
    "MIN_PATIENCE",
    "AdaptiveEndpointer",
    "CompletenessModel",
    "EndpointDecision",
    "EndpointState",
    "ModelFileError",
    "PausePrior",
    "SpeakerPauseModel",
    "TurnCues",
    "agreed_delay_s",
    "commit_delay",
    "cue_min_delay_s",
    "end_probability",
    "normalize_words",
    "patience_floor_s",
    "pause_delay_s",
    "trailing_digits",
    "turn_cues",
    "words_hold_turn",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
COMPLETENESS_FILE = "completeness.npz"
PAUSE_PRIOR_FILE = "pause_prior.npz"

DEFAULT_FLOOR_S = 0.15
"""Shortest delay after the last word before a commit, seconds."""
DEFAULT_CEILING_S = 2.5
"""Longest delay: the turn is committed after this much silence whatever the cues, seconds."""
DEFAULT_THRESHOLD = 0.54
"""Posterior P(turn over) at which the turn is committed (`TurnTaking(patience=...)`): the
benchmark's val choice (2026-12-06, with the words + audio agreement of `agreed_delay_s`)
as the slowest point of the sweep whose mean latency stays under 0.7 s by one standard
error of a 150-turn mean (0.03 s) on both val endpoint sets, meeting turns (MRDA: 0.653 s)
and two-party dialogue (Map Task: 0.574 s), where it cuts off fewer mid-turn pauses than
the framework's fixed window at the same latency. A turn committed in a pause costs little
when the user goes on at once (`continuation.ContinuationGuard`). Raise it (0.9, 0.98) for
fewer cut-offs at a longer wait. Until 2026-12-06 the default was 0.52 (words only: the
slowest point under 0.7 s with no margin: 0.681 s on MRDA val), and before that 0.98
(<= 5 % cut-offs, about 2.2 s)."""

MIN_PATIENCE = 0.3
"""Lowest `TurnTaking(patience=...)`: below it every silence commits at the floor."""
MAX_PATIENCE = 0.995
"""Highest `TurnTaking(patience=...)`: above it most turns wait for the ceiling."""

PATIENT_FLOOR_FROM = 0.55
"""Patience (commit threshold) above which the shortest delay starts to rise
(`patience_floor_s`)."""
PATIENT_FLOOR_SLOPE_S = 2.8
"""Seconds of shortest delay added per unit of patience above `PATIENT_FLOOR_FROM`."""
PATIENT_FLOOR_MAX_S = 2.0
"""Cap of the patience-driven shortest delay, seconds."""


def patience_floor_s(threshold: float) -> float:
    """The shortest delay (s) a patience (commit threshold) asks for: `DEFAULT_FLOOR_S` up to
    `PATIENT_FLOOR_FROM`, then rising by `PATIENT_FLOOR_SLOPE_S` per unit, at most
    `PATIENT_FLOOR_MAX_S` (0.7: 0.57 s; 0.9: 1.13 s; 0.98: 1.35 s). A user who asks for
    patience wants few cut-offs: past about 1 s of mean latency the texts that read as
    finished hold most of the remaining cut-offs, and a floor that grows with the patience
    waits them out. Chosen on the val sets (2026-12-06) among slopes 2.0, 2.8, 3.8 and
    starts 0.55, 0.65, 0.75: the smallest worst deficit against the swept fixed window
    from 1 to 2 s of mean latency on both the MRDA and the Map Task turns (0.8-1.3 points on
    MRDA, none on the Map Task; without the floor 1.5-2.3 points on MRDA)."""
    rise = PATIENT_FLOOR_SLOPE_S * (threshold - PATIENT_FLOOR_FROM)
    return min(PATIENT_FLOOR_MAX_S, max(DEFAULT_FLOOR_S, DEFAULT_FLOOR_S + rise))


DEFAULT_STT_WAIT_S = 3.5
"""Longest a commit is held, counted from the start of the pause (and never before its
planned time), while the recogniser has not delivered a final transcript for the speech
that ended the pause (s). A stalled recogniser (local Whisper blocked on a long decode)
otherwise lets the framework commit the earlier finals alone, or nothing, and turn the late
words into a second turn. Counted from the planned commit (1.5 s) until 2026-12-06: a
quicker default commit left too little room for a slow recogniser."""
MAX_STT_WAIT_S = 5.0
FINAL_EARLY_TOLERANCE_S = 0.3
"""A final this long before the pause's estimated start still counts as transcribing the
speech that ended it (s): the VAD's end of speech can trail the last word, and a streaming
recogniser may finalise on the word's end."""
MIN_PAUSE_S = 0.2
"""Silences shorter than this are not pauses (the framework asks its detector after 0.2 s)."""
MAX_PAUSE_S = 3.0
"""Longer silences are not learnt as mid-turn pauses (they are new turns or noise)."""
SURVIVAL_STEP_S = 0.01
"""Resolution of the survival curve, seconds."""
PRIOR_PSEUDO_COUNT = 50.0
"""Weight of the corpus prior in a speaker's pause curve, in pauses (chosen on val among
8/20/50: speakers adapt slowly)."""
SCALE_PSEUDO_COUNT = 50.0
"""Pauses needed before a speaker's own pace counts half in the prior's rescaling (chosen
on val among 4/10/20/50)."""
MIN_EXCESS_S = 0.02
"""Floor of a pause's excess over MIN_PAUSE_S before its log is taken, seconds."""
SPEAKER_MEMORY = 200
"""Most recent pauses of a speaker kept, count."""
DICTATION_ODDS_FACTOR = 0.2
"""End-of-turn odds multiplier while digits are being dictated (hand rule: a number string
is rarely a whole turn and its groups are separated by pauses)."""
FILLER_ODDS_FACTOR = 0.3
"""End-of-turn odds multiplier after a trailing filler ("um", "uh")."""
OPEN_DICTATION_MIN_DELAY_S = 2.0
"""Shortest delay while digits are being read out and the number is not whole (s,
`TurnCues.digit_string`), whatever the patience: callers pause between digit groups, and
an answer in the middle of a number makes them start again (hand rule, like the odds
factors)."""
MIN_DIGIT_STRING = 3
"""Digits read one by one at the end of a transcript that make it a number being read out
(`TurnCues.digit_string`). Two were too few on val (2026-12-06): meeting talk ends on
number pairs ("in nineteen ninety", "the two one") often enough that the floor cost
4.6 points of cut-offs at 0.7 s mean latency."""
COMPLETE_NUMBER_END_PROBABILITY = 0.97
"""Least end probability of a silence after a whole dictated phone number (`TurnCues.
number_complete`), instead of the dictation factor (hand rule, like the two factors above:
the corpora hold no phone numbers to learn it from). At the default threshold and the corpus
pause prior it gives a delay of 0.38 s: the caller has said everything asked for."""
PHONE_NUMBER_DIGITS = 10
"""Digits of a whole phone number in the North American format (3-3-4); 11 with a leading
1 (country code) counts too."""
ZIP_CODE_DIGITS = 5
"""Digits of a US ZIP code (the ZIP+4 extension is not expected)."""
MAX_EXPECTED_DIGITS = 20
"""Longest digit count an agent's question can set (`expected_digits`); longer counts are
not read as a dictation length."""
NO_TEXT_BASE_RATE = 0.385
"""End probability of a silence when no transcript has heard its start yet: the share of
turn ends among silences >= MIN_PAUSE_S in MRDA train counting every turn (one- and
two-word turns included). The completeness model's examples (since 2026-12-02 every turn,
less the turns cut off by another speaker) have 0.35; before, they were turns of >= 3
words with a pause, with 0.17."""
P_CLIP = 1e-4
"""Probabilities are clipped to [P_CLIP, 1 - P_CLIP] before odds are taken."""

FILLERS = frozenset({"um", "uh", "umm", "uhm", "er", "erm", "hmm", "mm", "ah", "eh"})
CONTINUERS = frozenset(
    {
        "and", "or", "but", "so", "because", "cause", "cuz", "if", "then", "that", "which",
        "the", "a", "an", "to", "of", "with", "for", "in", "on", "at", "my", "your", "is",
        "was", "like", "when", "where", "while", "than", "as", "i", "we", "you", "it's",
        "i'm", "there's", "what", "about", "from", "by", "and,", "um", "uh",
    }
)  # fmt: skip
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
"""Spoken digits as a recogniser writes them, and the digit each stands for."""
DIGIT_HOMOPHONES = {"for": "4", "to": "2", "too": "2"}
"""Words a recogniser writes for a spoken digit ("it's for one five" for "four one five").
They count as digits only in a second reading of the transcript (`trailing_digits(...,
homophones=True)`), since "to" and "for" are mostly words: a dictation is whole when either
reading has the length looked for."""
REPEAT_WORDS = {"double": 2, "triple": 3}
"""Words that repeat the next digit ("double five" = 55)."""
QUANTITY_WORDS = frozenset(
    {
        "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
        "eighty", "ninety", "hundred", "thousand",
    }
)  # fmt: skip
"""Number words that say a quantity rather than one digit."""
NUMBER_WORDS = (frozenset(DIGIT_WORDS) - {"o"}) | QUANTITY_WORDS | frozenset(REPEAT_WORDS)
"""Words `normalize_words` folds into `<num>` (a lone "o" stays a word there)."""
_TOKEN_RE = re.compile(r"[a-z0-9']+|@|\.(?=[a-z])")
NUM_TOKEN = "<num>"


class ModelFileError(ValueError):
    """A shipped model file is missing or malformed (the message names it)."""


def normalize_words(text: str) -> list[str]:
    """ASR-style tokens: lowercase words and apostrophes, no punctuation; digits and number
    words become `<num>` (one per digit for digit strings); e-mail '@' and inner dots kept."""
    text = text.lower().replace("o_k", "okay").replace("-", " ")
    out: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        tok = tok.strip("'")
        if not tok:
            continue
        if tok.isdigit():
            out.extend([NUM_TOKEN] * min(len(tok), 4))
        elif tok in NUMBER_WORDS:
            out.append(NUM_TOKEN)
        else:
            out.append(tok)
    return out


@dataclass(frozen=True)
class TurnCues:
    """Hand-read cues of the transcript's tail."""

    trailing_continuer: bool
    """Ends on a conjunction, preposition or article ("and", "because", "the"...)."""
    trailing_filler: bool
    """Ends on a filler ("um", "uh")."""
    dictation: bool
    """At least two of the last four tokens are digits / number words, or an e-mail is open."""
    number_complete: bool = False
    """The transcript ends on the digits of a whole phone number (`PHONE_NUMBER_DIGITS`, or
    one more with a leading 1), or on as many digits as the agent asked for
    (`expected_digits`): the dictation is over, not paused."""
    digit_string: bool = False
    """The transcript ends on at least `MIN_DIGIT_STRING` digits read one by one ("four one
    five", or "it's for 1-5" in the reading where "for" is a digit), not a whole number:
    someone is reading out a number, not talking about one."""


_RAW_TOKEN_RE = re.compile(r"[a-z]+|[0-9]+")


def trailing_digits(text: str, *, homophones: bool = False) -> str:
    """The digits dictated at the end of a raw transcript, in order: digit strings ("415",
    "223-4567", "(415) 223"), spoken digits ("four one five", "oh"), "double"/"triple"
    before a digit; fillers and punctuation between them are skipped. Reading backwards, the
    first other word ends the run ("my number is 415" -> "415"). Empty when the transcript
    does not end on digits, or when a number is said as a quantity ("twenty", "hundred"):
    those are not dictated digit by digit. With `homophones`, "for", "to" and "too" read as
    digits too (`DIGIT_HOMOPHONES`: "it's for one five" -> "415")."""
    tokens = _RAW_TOKEN_RE.findall(text.lower())
    spoken = {**DIGIT_WORDS, **DIGIT_HOMOPHONES} if homophones else DIGIT_WORDS
    groups: list[str] = []
    i = len(tokens) - 1
    while i >= 0:
        tok = tokens[i]
        if tok.isdigit() or tok in spoken:
            digits = tok if tok.isdigit() else spoken[tok]
            if len(digits) == 1 and i > 0 and tokens[i - 1] in REPEAT_WORDS:
                i -= 1
                digits *= REPEAT_WORDS[tokens[i]]
            groups.append(digits)
        elif tok in FILLERS and groups:
            pass
        elif tok in QUANTITY_WORDS or tok in REPEAT_WORDS:
            # "twenty", "hundred", or a "double" with no digit after it: not a digit string
            return ""
        else:
            break
        i -= 1
    return "".join(reversed(groups))


def _is_phone_number(digits: str) -> bool:
    n = len(digits)
    return n == PHONE_NUMBER_DIGITS or (n == PHONE_NUMBER_DIGITS + 1 and digits[0] == "1")


_COUNT_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20,
}  # fmt: skip
_COUNT = r"\b(\d{1,2}|" + "|".join(_COUNT_WORDS) + r")"
_N_DIGIT_RE = re.compile(_COUNT + r"[\s-]*digits?\b")
_LAST_N_RE = re.compile(r"\blast\s+" + _COUNT + r"(?=\s+digits?\b|\s+of\b)")
_ZIP_RE = re.compile(r"\bzip(\s*code)?\b")


def expected_digits(prompt: str) -> int | None:
    """How many digits the agent's words ask the user to dictate, or None when they name
    no length: "the 6-digit code", "your four digit PIN", "the last four of your card",
    "your ZIP code" (5). The last length named wins ("the 4-digit PIN, not the 6-digit
    code" is ambiguous anyway). A phone number needs no prompt (`TurnCues.number_complete`
    always knows it)."""
    text = prompt.lower()
    found: list[tuple[int, int]] = []
    for rx in (_N_DIGIT_RE, _LAST_N_RE):
        for m in rx.finditer(text):
            tok = m.group(1)
            n = int(tok) if tok.isdigit() else _COUNT_WORDS[tok]
            if 1 <= n <= MAX_EXPECTED_DIGITS:
                found.append((m.start(), n))
    found.extend((m.start(), ZIP_CODE_DIGITS) for m in _ZIP_RE.finditer(text))
    return max(found)[1] if found else None


def turn_cues(
    words: Sequence[str], *, text: str | None = None, expected: int | None = None
) -> TurnCues:
    """Cues of a normalized token list (see `normalize_words`); `text`, the raw transcript
    the tokens came from, also tells whether a dictated number is whole (it keeps the digits
    that normalization folds into `<num>`): a phone number, or `expected` digits when the
    agent asked for that many (`expected_digits`)."""
    last = words[-1] if words else ""
    tail = list(words[-4:])
    numbers = sum(1 for w in tail if w == NUM_TOKEN)
    email_open = "@" in tail and not (len(words) >= 2 and words[-2] == ".")
    dictation = numbers >= 2 or email_open or last in {"@", "."}
    # both readings of the trailing digits: "for", "to", "too" as words and as digits
    readings = (
        (trailing_digits(text), trailing_digits(text, homophones=True))
        if dictation and text is not None
        else ()
    )
    complete = any(
        _is_phone_number(d) or (expected is not None and len(d) == expected) for d in readings
    )
    return TurnCues(
        trailing_continuer=last in CONTINUERS and last not in FILLERS,
        trailing_filler=last in FILLERS,
        dictation=dictation,
        number_complete=complete,
        digit_string=not complete and any(len(d) >= MIN_DIGIT_STRING for d in readings),
    )


def _len_bucket(n: int) -> str:
    for edge in (1, 2, 3, 5, 8, 13, 21):
        if n <= edge:
            return str(edge)
    return "many"


FEATURE_VERSION = 2
"""Feature set of the completeness models this code writes. Version 1 (the models shipped
until 2026-12-02: the last three words, the first two, the length) is still read, so that
the model it shipped can be replayed beside the current one."""
FEATURE_VERSIONS = (1, 2)


def feature_strings(words: Sequence[str], version: int = FEATURE_VERSION) -> list[str]:
    """Sparse feature names of a normalized token list (the classifier's input). Version 2
    adds the unordered words of the last five and of the five before them, the last four
    words, the two before the last and the last two with the length."""
    if version not in FEATURE_VERSIONS:
        raise ValueError(f"feature version must be one of {FEATURE_VERSIONS}, got {version}")
    if not words:
        return ["empty"]
    w = list(words)
    n = _len_bucket(len(w))
    feats = [
        "w1:" + w[-1],
        "w2:" + " ".join(w[-2:]),
        "w3:" + " ".join(w[-3:]),
        "p1:" + (w[-2] if len(w) >= 2 else "<s>"),
        "f1:" + w[0],
        "len:" + n,
        "w1len:" + w[-1] + "|" + n,
        "num:" + str(min(3, sum(1 for x in w[-4:] if x == NUM_TOKEN))),
    ]
    if len(w) >= 2:
        feats.append("f2:" + " ".join(w[:2]))
    if version >= 2:
        feats.extend("b5:" + x for x in sorted(set(w[-5:])))
        feats.extend("b10:" + x for x in sorted(set(w[-10:-5])))
        feats.append("w4:" + " ".join(w[-4:]))
        feats.append("p2:" + " ".join(w[-3:-1]))
        feats.append("w2len:" + " ".join(w[-2:]) + "|" + n)
    return feats


def feature_indices(
    words: Sequence[str], dim: int, version: int = FEATURE_VERSION
) -> npt.NDArray[np.int64]:
    """Hashed feature indices in [0, dim) (crc32, stable across runs and machines)."""
    return np.array(
        [zlib.crc32(f.encode("utf-8")) % dim for f in feature_strings(words, version)],
        dtype=np.int64,
    )


class CompletenessModel:
    """P(turn complete | transcript so far): hashed logistic regression, numpy inference.

    Load the shipped weights with `CompletenessModel.load()` (explicit; nothing loads on
    import)."""

    def __init__(
        self,
        *,
        weights: npt.NDArray[np.floating],
        bias: float,
        feature_version: int = FEATURE_VERSION,
    ) -> None:
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim != 1 or w.size < 2:
            raise ValueError("weights must be a 1-D array of at least 2 hashed features")
        if feature_version not in FEATURE_VERSIONS:
            raise ValueError(
                f"feature_version must be one of {FEATURE_VERSIONS}, got {feature_version}"
            )
        self.weights = w
        self.bias = float(bias)
        self.dim = int(w.size)
        self.feature_version = feature_version

    @classmethod
    def load(cls, path: Path | None = None) -> CompletenessModel:
        """Weights from `path` (default: the file shipped in the package)."""
        p = path or DATA_DIR / COMPLETENESS_FILE
        try:
            with np.load(p) as z:
                # files without a version were written with the first feature set
                version = int(z["feature_version"]) if "feature_version" in z else 1
                return cls(weights=z["weights"], bias=float(z["bias"]), feature_version=version)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelFileError(
                f"cannot read completeness model {p}: {exc}; reinstall "
                "livekit-plugins-turntaking (in the repository, `python -m "
                "bench.training.endpointing` rebuilds it)"
            ) from exc

    def logit(self, words: Sequence[str]) -> float:
        """Log-odds that `words` (normalized tokens) form a complete turn."""
        idx = feature_indices(words, self.dim, self.feature_version)
        return self.bias + float(self.weights[idx].sum())

    def word_probability(self, words: Sequence[str]) -> float:
        """P(complete) of normalized tokens (see `normalize_words`)."""
        return _sigmoid(self.logit(words))

    def probability(self, text: str) -> float:
        """P(complete) of raw transcript text (any case/punctuation)."""
        return self.word_probability(normalize_words(text))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def _logit(p: float) -> float:
    p = min(1.0 - P_CLIP, max(P_CLIP, p))
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class PausePrior:
    """Corpus distribution of mid-turn pause lengths (s), as sorted quantiles."""

    quantiles_s: npt.NDArray[np.float64]

    @classmethod
    def load(cls, path: Path | None = None) -> PausePrior:
        """The prior shipped in the package (or `path`)."""
        p = path or DATA_DIR / PAUSE_PRIOR_FILE
        try:
            with np.load(p) as z:
                q = np.asarray(z["quantiles_s"], dtype=np.float64)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelFileError(
                f"cannot read pause prior {p}: {exc}; reinstall "
                "livekit-plugins-turntaking (in the repository, `python -m "
                "bench.training.endpointing` rebuilds it)"
            ) from exc
        if q.ndim != 1 or q.size < 2 or np.any(np.diff(q) < 0):
            raise ModelFileError(f"pause prior {p}: quantiles must be 1-D and sorted")
        return cls(q)

    def mean_log_excess(self) -> float:
        """Mean of log(pause - MIN_PAUSE_S) over the quantiles (the prior's pace)."""
        excess = np.maximum(self.quantiles_s - MIN_PAUSE_S, MIN_EXCESS_S)
        return float(np.mean(np.log(excess)))

    def survival(self, grid_s: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """P(pause > t) for each t of `grid_s` (linear between quantiles)."""
        levels = np.linspace(0.0, 1.0, self.quantiles_s.size)
        cdf = np.interp(grid_s, self.quantiles_s, levels, left=0.0, right=1.0)
        return 1.0 - cdf


@dataclass
class SpeakerPauseModel:
    """One speaker's mid-turn pause lengths: the prior, stretched to this speaker's pace and
    mixed with what they did so far.

    The prior is first rescaled on the pause's excess over MIN_PAUSE_S by
    s = exp(w * (mean log excess of the speaker - mean log excess of the prior)),
    w = n / (n + scale_weight), so a fast speaker's whole curve (tail included) moves
    down; then S(t) = (k * S_prior_s(t) + #{observed pauses > t}) / (k + n), k =
    `prior_weight`. Only pauses in [MIN_PAUSE_S, MAX_PAUSE_S] are learnt."""

    prior: PausePrior
    prior_weight: float = PRIOR_PSEUDO_COUNT
    pauses_s: list[float] = field(default_factory=list)
    scale_weight: float = SCALE_PSEUDO_COUNT
    """Pauses needed before the speaker's own pace counts half in the rescaling."""

    def __post_init__(self) -> None:
        if not 0.0 < self.prior_weight <= 1e6:
            raise ValueError(f"prior_weight must be in (0, 1e6] pauses, got {self.prior_weight}")
        if not 0.0 < self.scale_weight <= 1e6:
            raise ValueError(f"scale_weight must be in (0, 1e6] pauses, got {self.scale_weight}")
        self._grid = np.arange(0.0, MAX_PAUSE_S + SURVIVAL_STEP_S, SURVIVAL_STEP_S)
        self._prior_surv = self.prior.survival(self._grid)
        self._prior_log_excess = self.prior.mean_log_excess()

    def scale(self) -> float:
        """Factor applied to the prior's pause excess for this speaker (1: corpus pace)."""
        n = len(self.pauses_s)
        if n == 0:
            return 1.0
        excess = np.maximum(np.asarray(self.pauses_s) - MIN_PAUSE_S, MIN_EXCESS_S)
        w = n / (n + self.scale_weight)
        return float(np.exp(w * (np.mean(np.log(excess)) - self._prior_log_excess)))

    def observe(self, pause_s: float) -> bool:
        """Learn one mid-turn pause (s); returns whether it was in the learnt range."""
        if not MIN_PAUSE_S <= pause_s <= MAX_PAUSE_S:
            return False
        self.pauses_s.append(float(pause_s))
        if len(self.pauses_s) > SPEAKER_MEMORY:
            del self.pauses_s[0]
        return True

    @property
    def grid_s(self) -> npt.NDArray[np.float64]:
        """Silence lengths (s) at which `survival` is evaluated."""
        return self._grid

    def survival(self) -> npt.NDArray[np.float64]:
        """P(this speaker's mid-turn pause lasts longer than t) on `grid_s`."""
        k = self.prior_weight
        n = len(self.pauses_s)
        if n == 0:
            return self._prior_surv
        g = self._grid
        scaled = np.where(g > MIN_PAUSE_S, MIN_PAUSE_S + (g - MIN_PAUSE_S) / self.scale(), g)
        prior_surv = self.prior.survival(scaled)
        obs = np.asarray(sorted(self.pauses_s))
        longer = n - np.searchsorted(obs, g, side="right")
        return np.asarray((k * prior_surv + longer) / (k + n), dtype=np.float64)

    def quantile_s(self, q: float) -> float:
        """Pause length (s) that a share `q` of this speaker's pauses do not exceed."""
        surv = self.survival()
        idx = int(np.searchsorted(-surv, -(1.0 - q), side="left"))
        return float(self._grid[min(idx, self._grid.size - 1)])


def end_probability(
    p_text: float | None,
    p_audio: float | None = None,
    *,
    audio_weight: float = 0.0,
    cues: TurnCues | None = None,
    base_rate: float = NO_TEXT_BASE_RATE,
) -> float:
    """P(this silence ends the turn) from the text and audio models (log-odds sum, the audio
    term scaled by `audio_weight`) and the hand cues (odds multipliers). A missing model
    contributes nothing (`base_rate` when both are missing). After a whole dictated phone
    number the probability is at least `COMPLETE_NUMBER_END_PROBABILITY`."""
    z = _logit(p_text) if p_text is not None else _logit(base_rate)
    if p_audio is not None and audio_weight > 0.0:
        z += audio_weight * _logit(p_audio)
    if cues is not None:
        if cues.number_complete:
            z = max(z, _logit(COMPLETE_NUMBER_END_PROBABILITY))
        elif cues.dictation:
            z += math.log(DICTATION_ODDS_FACTOR)
        if cues.trailing_filler:
            z += math.log(FILLER_ODDS_FACTOR)
    return _sigmoid(z)


def commit_delay(
    p_end: float,
    grid_s: npt.NDArray[np.float64],
    survival: npt.NDArray[np.float64],
    *,
    threshold: float,
    floor_s: float,
    ceiling_s: float,
    cues: TurnCues | None = None,
) -> float:
    """Silence (s) after which P(end | silence >= t) = p / (p + (1-p) S(t)) reaches
    `threshold`, at least `cue_min_delay_s(cues)`, clamped to [floor_s, ceiling_s]."""
    p = min(1.0 - P_CLIP, max(P_CLIP, p_end))
    # posterior >= thr  <=>  S(t) <= p (1 - thr) / ((1 - p) thr)
    target = p * (1.0 - threshold) / ((1.0 - p) * threshold)
    ok = np.nonzero(survival <= target)[0]
    t = float(grid_s[ok[0]]) if ok.size else ceiling_s
    if cues is not None:
        t = max(t, cue_min_delay_s(cues))
    return min(ceiling_s, max(floor_s, t))


def cue_min_delay_s(cues: TurnCues) -> float:
    """Shortest delay the words ask for, whatever the threshold (s; 0 when they ask for
    none): `OPEN_DICTATION_MIN_DELAY_S` while digits are read out. (A floor of
    1.0 s after a trailing continuer or filler was tried on val, 2026-12-06: meeting
    speakers trail off on "so um" at real turn ends often enough that it cost 4 points of
    cut-offs at 0.7 s mean latency on MRDA val; the odds factors handle those words.)"""
    if cues.digit_string:
        return OPEN_DICTATION_MIN_DELAY_S
    return 0.0


AUDIO_AGREE_PROBABILITY = 0.36
"""Audio end-of-turn probability (LiveKit's turn-detector-v1-mini on the pause's last
1.2 s) at or above which the audio says the turn is over (`agreed_delay_s`): LiveKit's own
threshold for English (`unlikely_threshold`), below which the framework waits its longest.
Not tuned on the benchmark: its rendered voices give every pause and every end the same
prosody, so they cannot show what the audio model knows (on them it separates ends from
pauses with an AUC of only 0.62-0.64); recorded calls judge it."""
TEXT_AGREE_PROBABILITY = 0.2
"""Completeness probability at or above which the words do not contradict an audio
"over" (`agreed_delay_s`). Chosen on the val endpoint sets (2026-12-06) among 0.05-0.8: the
lowest bar whose default point stays at or under the words-only curve (fewer cut-offs at
the same mean latency) on all four (MRDA and Map Task, clean and telephony); it moved the
MRDA clean default from 0.681 to 0.629 s of mean latency. The completeness model reads
even a plain finished sentence at 0.3-0.5, so a higher bar would almost never let the audio
speak."""
AGREE_DELAY_S = 0.25
"""Delay of a commit the words and the audio agree on (s): the framework asks at 0.2 s of
silence and the audio model answers in 25-45 ms on two cores."""


def words_hold_turn(cues: TurnCues) -> bool:
    """The words say the turn goes on: a trailing continuer or filler, or digits being read
    out (a whole number is not held)."""
    open_dictation = cues.dictation and not cues.number_complete
    return cues.trailing_continuer or cues.trailing_filler or cues.digit_string or open_dictation


def agreed_delay_s(
    delay_s: float,
    p_text: float | None,
    p_audio: float | None,
    cues: TurnCues,
    *,
    audio_min: float,
    text_min: float,
    floor_s: float,
) -> float:
    """`delay_s` (s), shortened to `AGREE_DELAY_S` when the words and the audio agree the
    turn is over: `p_text` >= `text_min`, `p_audio` >= `audio_min` and no cue holds the turn
    (`words_hold_turn`). Otherwise `delay_s` unchanged: the audio model only ever makes a
    commit sooner, and only together with the words, so a voice that sounds finished
    mid-sentence ("I want to go to") or words that read finished in a rising voice keep the
    words' delay. A patience whose shortest delay `floor_s` is longer than `AGREE_DELAY_S`
    turns the shortcut off: that user asked to wait for the words' own certainty."""
    if p_text is None or p_audio is None or floor_s > AGREE_DELAY_S:
        return delay_s
    if p_audio < audio_min or p_text < text_min or words_hold_turn(cues):
        return delay_s
    return min(delay_s, AGREE_DELAY_S)


def pause_delay_s(
    p_end: float,
    p_text: float | None,
    p_audio: float | None,
    cues: TurnCues,
    grid_s: npt.NDArray[np.float64],
    survival: npt.NDArray[np.float64],
    *,
    threshold: float,
    floor_s: float,
    ceiling_s: float,
    audio_min: float | None,
    text_min: float,
    cue_floors: bool = True,
) -> tuple[float, bool]:
    """The delay planned for one pause (s) and whether the words and the audio agreed on it:
    the words' delay (`commit_delay`, with the cues' shortest delays unless `cue_floors` is
    off), shortened by `agreed_delay_s` unless `audio_min` is None. The plugin's endpointer
    and the benchmark's replay both plan a pause with it."""
    words = commit_delay(
        p_end,
        grid_s,
        survival,
        threshold=threshold,
        floor_s=floor_s,
        ceiling_s=ceiling_s,
        cues=cues if cue_floors else None,
    )
    if audio_min is None:
        return words, False
    delay = agreed_delay_s(
        words, p_text, p_audio, cues, audio_min=audio_min, text_min=text_min, floor_s=floor_s
    )
    return delay, delay < words


class EndpointState(Enum):
    """Where the user's turn stands."""

    IDLE = "idle"
    """No user turn open (before the first word, or after a commit)."""
    SPEAKING = "speaking"
    PAUSED = "paused"
    """Silence inside an open turn: a commit is pending."""
    COMMITTED = "committed"
    """The turn was declared over in the current silence."""


@dataclass(frozen=True)
class EndpointDecision:
    """The delay chosen for the current pause and why."""

    pause_start_s: float
    """Stream time the silence started (s)."""
    delay_s: float
    """Silence the turn must outlast to be committed (s)."""
    commit_at_s: float
    """pause_start_s + delay_s (s)."""
    p_text: float | None
    """Completeness probability of the transcript (None: no transcript yet)."""
    p_audio: float | None
    """Audio end-of-turn model probability (None: not asked)."""
    p_end: float
    """Combined P(this silence ends the turn) before the silence is taken into account."""
    agreed: bool
    """The words and the audio model agreed the turn is over, which shortened the delay
    (`agreed_delay_s`)."""
    speaker_p90_s: float
    """90th percentile of this speaker's mid-turn pauses (s), the patience it implies."""
    cues: TurnCues
    words: int
    """Number of transcript tokens of the turn so far."""


class AdaptiveEndpointer:
    """Per-session end-of-turn logic on literal stream timestamps (seconds).

    Feed `on_speech_start`, `on_speech_end`, `on_transcript` and optionally
    `on_audio_probability`; ask `decision()` for the current pause's delay, `poll(now_s)`
    whether the turn is over. `on_agent_speech` marks the agent's talking time, which is
    never learnt as a pause; `discard_speech` drops a user backchannel (neither a turn nor
    the end of a pause). `stt_hold_until_s` says how long a commit may wait for a
    recogniser that has not yet finalised the last speech (`stt_wait_s` after the pause
    began, 0 = never)."""

    def __init__(
        self,
        *,
        completeness: CompletenessModel | None,
        pauses: SpeakerPauseModel,
        threshold: float = DEFAULT_THRESHOLD,
        floor_s: float = DEFAULT_FLOOR_S,
        ceiling_s: float = DEFAULT_CEILING_S,
        audio_weight: float = 0.0,
        audio_agree_probability: float | None = AUDIO_AGREE_PROBABILITY,
        text_agree_probability: float = TEXT_AGREE_PROBABILITY,
        stt_wait_s: float = DEFAULT_STT_WAIT_S,
    ) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if not 0.0 <= floor_s <= ceiling_s <= MAX_PAUSE_S:
            raise ValueError(
                f"need 0 <= floor_s <= ceiling_s <= {MAX_PAUSE_S} s, got {floor_s}, {ceiling_s}"
            )
        if not 0.0 <= audio_weight <= 2.0:
            raise ValueError(f"audio_weight must be in [0, 2], got {audio_weight}")
        if audio_agree_probability is not None and not 0.0 < audio_agree_probability <= 1.0:
            raise ValueError(
                f"audio_agree_probability must be in (0, 1] or None, got {audio_agree_probability}"
            )
        if not 0.0 < text_agree_probability <= 1.0:
            raise ValueError(
                f"text_agree_probability must be in (0, 1], got {text_agree_probability}"
            )
        if not 0.0 <= stt_wait_s <= MAX_STT_WAIT_S:
            raise ValueError(f"stt_wait_s must be in [0, {MAX_STT_WAIT_S}] s, got {stt_wait_s}")
        self.completeness = completeness
        self.pauses = pauses
        self.threshold = threshold
        self.floor_s = floor_s
        self.ceiling_s = ceiling_s
        self.audio_weight = audio_weight
        self.audio_agree_probability = audio_agree_probability
        """Audio probability from which a commit the words agree on comes sooner (None:
        the audio model never shortens a delay)."""
        self.text_agree_probability = text_agree_probability
        self.stt_wait_s = stt_wait_s
        self.state = EndpointState.IDLE
        self._last_final_s: float | None = None
        self._final_text = ""
        self._interim_text = ""
        self._p_audio: float | None = None
        self._pause_start_s: float | None = None
        self._agent_spoke_in_pause = False
        self._resumed_from: tuple[float, EndpointState, bool] | None = None
        self._cached: tuple[str, float | None, int | None, EndpointDecision] | None = None
        self._expected_digits: int | None = None

    # -- inputs -------------------------------------------------------------------------

    def on_speech_start(self, at_s: float) -> float | None:
        """The user speaks at `at_s`. Returns the pause (s) just learnt, if any."""
        learnt: float | None = None
        self._resumed_from = None
        match self.state:
            case EndpointState.PAUSED | EndpointState.COMMITTED:
                assert self._pause_start_s is not None
                pause = at_s - self._pause_start_s
                # a resumption after a commit is still this speaker's pause habit; the
                # owner calls end_turn() when a commit really closed the turn
                if not self._agent_spoke_in_pause and self.pauses.observe(pause):
                    learnt = pause
                self._resumed_from = (self._pause_start_s, self.state, learnt is not None)
            case EndpointState.IDLE | EndpointState.SPEAKING:
                pass
        self.state = EndpointState.SPEAKING
        self._pause_start_s = None
        self._p_audio = None
        self._agent_spoke_in_pause = False
        return learnt

    def on_speech_end(self, at_s: float) -> None:
        """The user's speech ended at `at_s` (end of the last word)."""
        match self.state:
            case EndpointState.SPEAKING:
                self.state = EndpointState.PAUSED
                self._pause_start_s = at_s
                self._cached = None
            case EndpointState.IDLE | EndpointState.PAUSED | EndpointState.COMMITTED:
                pass

    def on_transcript(self, text: str, now_s: float, *, is_final: bool) -> None:
        """Speech-to-text hypothesis of the current utterance (`is_final`: the utterance is
        closed; the next text starts a new utterance of the same turn), received at `now_s`
        (only finals' arrival times are used: see `stt_hold_until_s`)."""
        if is_final:
            self._last_final_s = now_s
            self._final_text = (self._final_text + " " + text).strip()
            self._interim_text = ""
        else:
            self._interim_text = text

    def on_audio_probability(self, p_end: float) -> None:
        """Audio end-of-turn model's probability for the current pause."""
        if not 0.0 <= p_end <= 1.0:
            raise ValueError(f"p_end must be a probability in [0, 1], got {p_end}")
        self._p_audio = p_end

    def on_agent_message(self, text: str) -> None:
        """The agent said `text` (a whole message, as the user heard it). When it asks for a
        number of digits ("the 6-digit code", "your ZIP code": `expected_digits`), a
        dictation of the user's next turn is over once it has that many; any other message
        forgets the count."""
        self._expected_digits = expected_digits(text)
        self._cached = None

    @property
    def expected_digits(self) -> int | None:
        """Digits the agent's latest message asked for (None: no count named)."""
        return self._expected_digits

    def on_agent_speech(self) -> None:
        """The agent talked during the current silence: not a mid-turn pause to learn."""
        self._agent_spoke_in_pause = True

    def discard_speech(self) -> None:
        """The speech that started was a backchannel: return to the pause it interrupted."""
        if self.state is not EndpointState.SPEAKING or self._resumed_from is None:
            return
        pause_start_s, state, learnt = self._resumed_from
        if learnt and self.pauses.pauses_s:
            self.pauses.pauses_s.pop()
        self._pause_start_s = pause_start_s
        self.state = state
        self._resumed_from = None
        self._cached = None

    # -- outputs ------------------------------------------------------------------------

    @property
    def turn_text(self) -> str:
        """Transcript of the open turn so far (finals and the latest interim)."""
        return (self._final_text + " " + self._interim_text).strip()

    def decision(self) -> EndpointDecision | None:
        """Delay for the current pause (None when not in a pause). Recomputed only when the
        transcript or the audio probability changed."""
        if self._pause_start_s is None or self.state is EndpointState.SPEAKING:
            return None
        text = self.turn_text
        key = (text, self._p_audio, self._expected_digits)
        if self._cached is not None and self._cached[:3] == key:
            return self._cached[3]
        words = normalize_words(text)
        cues = turn_cues(words, text=text, expected=self._expected_digits)
        p_text = self.completeness.word_probability(words) if self.completeness and words else None
        p_end = end_probability(p_text, self._p_audio, audio_weight=self.audio_weight, cues=cues)
        delay, agreed = pause_delay_s(
            p_end,
            p_text,
            self._p_audio,
            cues,
            self.pauses.grid_s,
            self.pauses.survival(),
            threshold=self.threshold,
            floor_s=self.floor_s,
            ceiling_s=self.ceiling_s,
            audio_min=self.audio_agree_probability,
            text_min=self.text_agree_probability,
        )
        dec = EndpointDecision(
            pause_start_s=self._pause_start_s,
            delay_s=delay,
            commit_at_s=self._pause_start_s + delay,
            p_text=p_text,
            p_audio=self._p_audio,
            p_end=p_end,
            agreed=agreed,
            speaker_p90_s=self.pauses.quantile_s(0.9),
            cues=cues,
            words=len(words),
        )
        self._cached = (*key, dec)
        return dec

    def delay_for_pause(self) -> float | None:
        """Delay (s) of the current pause, or None outside a pause."""
        dec = self.decision()
        return None if dec is None else dec.delay_s

    def stt_hold_until_s(self) -> float | None:
        """Latest time (s) the commit of the current pause may wait for the recogniser, or
        None when it need not wait: outside a pause, with `stt_wait_s` 0, or once a final
        transcript arrived after the pause started (less `FINAL_EARLY_TOLERANCE_S`).

        The framework commits the turn's finals only, so a commit before the last speech's
        final would cut the turn in two. `decision()` and `poll()` ignore this hold (they
        are the policy the benchmark compares); the LiveKit stream applies it."""
        dec = self.decision()
        if dec is None or self.stt_wait_s == 0.0:
            return None
        heard_from_s = dec.pause_start_s - FINAL_EARLY_TOLERANCE_S
        if self._last_final_s is not None and self._last_final_s >= heard_from_s:
            return None
        return max(dec.commit_at_s, dec.pause_start_s + self.stt_wait_s)

    def poll(self, now_s: float) -> EndpointDecision | None:
        """The decision when the turn is over at `now_s` (state becomes COMMITTED), else None."""
        if self.state is not EndpointState.PAUSED:
            return None
        dec = self.decision()
        if dec is None or now_s < dec.commit_at_s:
            return None
        self.state = EndpointState.COMMITTED
        return dec

    def end_turn(self) -> None:
        """Close the turn (committed elsewhere, e.g. by the framework): forget its text."""
        self._reset_turn()
        self.state = EndpointState.IDLE
        self._pause_start_s = None

    def _reset_turn(self) -> None:
        self._final_text = ""
        self._interim_text = ""
        self._p_audio = None
        self._cached = None
