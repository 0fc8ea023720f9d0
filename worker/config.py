"""Every setting of the worker has one home: `Settings`, read from the environment or the
`.env` file next to agent.py (`DOTENV_PATH`), whatever the working directory.

Secrets are wrapped in `Secret`, whose `repr` and `str` never show the value, so a settings
object can be logged safely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final, Literal

from dotenv import dotenv_values

DEFAULT_PATIENCE: Final = 0.54
"""The plugin's default `TurnTaking(patience=...)` (a test keeps them equal; importing the
plugin here would load the framework before `--help` answers)."""
MIN_PATIENCE: Final = 0.3
MAX_PATIENCE: Final = 0.995
DEFAULT_DUCK_DB: Final = 14.0
"""The plugin's default `TurnTaking(duck_db=...)` and its range (a test keeps them equal)."""
MIN_DUCK_DB: Final = 10.0
MAX_DUCK_DB: Final = 40.0
DEFAULT_OUTPUT_LEAD_MS: Final = 100
"""The plugin's default `TurnTaking(output_lead_s=...)` in ms, and its range."""
MIN_OUTPUT_LEAD_MS: Final = 60
MAX_OUTPUT_LEAD_MS: Final = 2000

InterruptionMode = Literal["arbiter", "vad"]
EndpointingMode = Literal["adaptive", "livekit"]

_INTERRUPTION_MODES: Final = ("arbiter", "vad")
_ENDPOINTING_MODES: Final = ("adaptive", "livekit")

APP_DIR: Final = Path(__file__).resolve().parent.parent
"""The folder holding agent.py (this package's parent)."""
DOTENV_PATH: Final = APP_DIR / ".env"
"""The `.env` file the worker reads: next to agent.py, not in the working directory."""

LOG_LEVELS: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")
"""The levels LiveKit Agents 1.8.9 accepts (its own `VALID_LOG_LEVELS`)."""

LIVEKIT_VARS: Final = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
PROVIDER_VARS: Final = ("DEEPGRAM_API_KEY", "OPENAI_API_KEY")

# Which variables each CLI mode needs before it may start. `console` runs the agent against
# the local microphone, so it needs the providers but no LiveKit server.
REQUIRED_VARS_BY_MODE: Final[Mapping[str, tuple[str, ...]]] = {
    "console": PROVIDER_VARS,
    "dev": LIVEKIT_VARS + PROVIDER_VARS,
    "start": LIVEKIT_VARS + PROVIDER_VARS,
    "connect": LIVEKIT_VARS + PROVIDER_VARS,
    "download-files": (),
    "simulate": (),
}

_HOW_TO_SET: Final[Mapping[str, str]] = {
    "LIVEKIT_URL": "your LiveKit server URL, e.g. wss://<project>.livekit.cloud",
    "LIVEKIT_API_KEY": "an API key from LiveKit Cloud or the keys: section of livekit.yaml",
    "LIVEKIT_API_SECRET": "the secret that belongs to LIVEKIT_API_KEY",
    "DEEPGRAM_API_KEY": "a Deepgram API key (speech-to-text)",
    "OPENAI_API_KEY": "an OpenAI API key (LLM and text-to-speech)",
}


class ConfigError(ValueError):
    """A setting is missing or invalid; the message says which and how to fix it."""


class Secret:
    """A secret string that never prints its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value; pass it straight to the client that needs it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _secret() -> Secret:
    return Secret("")


@dataclass(frozen=True)
class Settings:
    """The worker's options. Each field maps to one environment variable (upper-case name)."""

    livekit_url: str = ""
    livekit_api_key: Secret = field(default_factory=_secret)
    livekit_api_secret: Secret = field(default_factory=_secret)
    deepgram_api_key: Secret = field(default_factory=_secret)
    openai_api_key: Secret = field(default_factory=_secret)

    agent_name: str = "turn-taking-agent"
    """Name the worker registers under; dispatch rules (e.g. SIP) target it."""
    prompt_name: str = "voice_persona"
    """File in prompts/ (without .txt) holding the agent's instructions."""
    language: str = "en"
    deepgram_model: str = "nova-3"
    openai_llm_model: str = "gpt-4.1-mini"
    openai_tts_model: str = "gpt-4o-mini-tts"
    openai_tts_voice: str = "ash"

    interruption_mode: InterruptionMode = "arbiter"
    """`arbiter`: our local backchannel/interruption arbiter; `vad`: the framework's barge-in."""
    endpointing_mode: EndpointingMode = "adaptive"
    """`adaptive`: our per-speaker endpointing; `livekit`: the framework's fixed endpointing."""
    endpointing_patience: float = DEFAULT_PATIENCE
    """How sure the adaptive endpointing must be that the turn is over before it commits
    (`TurnTaking(patience=...)`): higher waits longer and cuts off fewer unfinished turns."""
    arbiter_duck_db: float = DEFAULT_DUCK_DB
    """How far the agent's voice drops while the arbiter is unsure, dB (`TurnTaking(duck_db=
    ...)`, 10-40); 0 turns the duck off."""
    output_lead_ms: int = DEFAULT_OUTPUT_LEAD_MS
    """How far ahead of the playhead the agent's audio goes to the room, milliseconds
    (`TurnTaking(output_lead_s=...)`, 60-2000): a duck, a pause or a stop is heard within
    about this long; 0 hands the audio on as the framework does."""
    input_sample_rate_hz: int = 16_000
    """Rate the room's audio is resampled to before STT, VAD and our models (8 kHz SIP audio
    is upsampled, 48 kHz WebRTC audio downsampled)."""
    input_frame_ms: int = 20
    """Length of the room's audio frames, milliseconds. The arbiter acts on a frame's end,
    so its early decisions wait up to one frame; it was measured on 20 ms frames (the
    framework's default is 50 ms)."""
    user_away_timeout_s: float = 12.0
    """Silence (user and agent) after which the user is "away" and the agent checks in."""
    load_threshold: float = 0.7
    """Worker load (0-1) above which LiveKit stops dispatching new jobs to this worker."""
    max_connect_retries: int = 16
    """Reconnections to LIVEKIT_URL the framework tries before giving up in `start` and `dev`
    (it waits 0, 2, 4, 6, 8 then 10 s between tries, so 16 take about 130 s); the worker
    then exits with code 1 so a supervisor restarts it. `connect` does not retry."""
    log_level: str = "INFO"
    """One of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL (any case)."""

    def __post_init__(self) -> None:
        if self.interruption_mode not in _INTERRUPTION_MODES:
            raise ConfigError(
                f"INTERRUPTION_MODE must be one of {', '.join(_INTERRUPTION_MODES)}, "
                f"got {self.interruption_mode!r}"
            )
        if self.endpointing_mode not in _ENDPOINTING_MODES:
            raise ConfigError(
                f"ENDPOINTING_MODE must be one of {', '.join(_ENDPOINTING_MODES)}, "
                f"got {self.endpointing_mode!r}"
            )
        if not MIN_PATIENCE <= self.endpointing_patience <= MAX_PATIENCE:
            raise ConfigError(
                f"ENDPOINTING_PATIENCE must be in [{MIN_PATIENCE}, {MAX_PATIENCE}], "
                f"got {self.endpointing_patience}"
            )
        if self.arbiter_duck_db != 0 and not MIN_DUCK_DB <= self.arbiter_duck_db <= MAX_DUCK_DB:
            raise ConfigError(
                f"ARBITER_DUCK_DB must be 0 (off) or in [{MIN_DUCK_DB}, {MAX_DUCK_DB}] dB, "
                f"got {self.arbiter_duck_db}"
            )
        if self.output_lead_ms != 0 and not (
            MIN_OUTPUT_LEAD_MS <= self.output_lead_ms <= MAX_OUTPUT_LEAD_MS
        ):
            raise ConfigError(
                f"OUTPUT_LEAD_MS must be 0 (off) or in [{MIN_OUTPUT_LEAD_MS}, "
                f"{MAX_OUTPUT_LEAD_MS}] ms, got {self.output_lead_ms}"
            )
        if not 8_000 <= self.input_sample_rate_hz <= 48_000:
            raise ConfigError(
                f"INPUT_SAMPLE_RATE_HZ must be in [8000, 48000], got {self.input_sample_rate_hz}"
            )
        if not 10 <= self.input_frame_ms <= 100:
            raise ConfigError(f"INPUT_FRAME_MS must be in [10, 100] ms, got {self.input_frame_ms}")
        if not 0.0 < self.load_threshold <= 1.0:
            raise ConfigError(f"LOAD_THRESHOLD must be in (0, 1], got {self.load_threshold}")
        if not 0 <= self.max_connect_retries <= 100:
            raise ConfigError(
                f"MAX_CONNECT_RETRIES must be in [0, 100], got {self.max_connect_retries}"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if not 1.0 <= self.user_away_timeout_s <= 600.0:
            raise ConfigError(
                f"USER_AWAY_TIMEOUT_S must be in [1, 600] seconds, got {self.user_away_timeout_s}"
            )

    def is_set(self, env_name: str) -> bool:
        """Whether the variable `env_name` (e.g. "OPENAI_API_KEY") has a non-empty value."""
        value = getattr(self, env_name.lower())
        return bool(value)


def _convert(name: str, raw: str, default: object) -> object:
    if isinstance(default, Secret):
        return Secret(raw.strip())
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    return raw.strip()


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: Path | None = None
) -> Settings:
    """Settings from `environ` (default: the process environment) over the values of the
    `dotenv_path` file (default: `DOTENV_PATH`, the `.env` next to agent.py; a missing file
    is no error).

    The process environment wins over `.env`, so a deployment can override a developer's
    file. Raises `ConfigError` naming the variable for a value of the wrong type or range.
    """
    env: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else DOTENV_PATH
    if path.is_file():
        env.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    defaults = Settings()
    values: dict[str, object] = {}
    for f in fields(Settings):
        name = f.name.upper()
        if name in env and env[name] != "":
            values[f.name] = _convert(name, env[name], getattr(defaults, f.name))
    return Settings(**values)  # type: ignore[arg-type]


def missing_for_mode(settings: Settings, mode: str) -> list[str]:
    """Names of the variables `mode` needs that are not set, in a stable order."""
    return [name for name in REQUIRED_VARS_BY_MODE.get(mode, ()) if not settings.is_set(name)]


def missing_message(missing: list[str], mode: str) -> str:
    """One line naming each missing variable and how to set it."""
    parts = [f"{name} ({_HOW_TO_SET[name]})" for name in missing]
    return (
        f"error: `{mode}` needs {', '.join(parts)}; set them in the environment or in a .env "
        "file next to agent.py (see .env.example)"
    )
