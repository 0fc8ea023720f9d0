"""Local streaming speech-to-text: Whisper tiny.en behaving like a streaming provider."""

from .model import (
    TranscriptUpdate,
    WhisperTranscriber,
    WhisperUnavailableError,
    transcribe_timeline,
)
from .stt import LocalSpeechStream, LocalSTT

__all__ = [
    "LocalSTT",
    "LocalSpeechStream",
    "TranscriptUpdate",
    "WhisperTranscriber",
    "WhisperUnavailableError",
    "transcribe_timeline",
]
