"""LiveKit-facing streaming STT over local Whisper (interim + final transcripts)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from livekit import rtc
from livekit.agents import LanguageCode, stt, utils
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from .log import logger
from .model import (
    INTERIM_INTERVAL_S,
    MIN_SILENCE_S,
    SAMPLE_RATE_HZ,
    EnergyVad,
    SegmenterEvent,
    SegmenterEventType,
    SpeechSegmenter,
    WhisperTranscriber,
)

LANGUAGE = LanguageCode("en")


@dataclass(frozen=True)
class _Job:
    event: SegmenterEvent
    stream_t0: float
    """Wall-clock time (time.time()) of stream time 0, for SpeechData timestamps."""


class LocalSTT(stt.STT[Any]):
    """Streaming speech-to-text on local Whisper tiny.en, shaped like a streaming provider.

    Speech is segmented by an energy VAD; while a segment is open an interim transcript of the
    audio so far is produced every `interim_interval_s` (skipped while the previous call is
    still running), and a final transcript when `min_silence_s` of silence closes it. Events:
    START_OF_SPEECH, INTERIM_TRANSCRIPT, FINAL_TRANSCRIPT, END_OF_SPEECH. Whisper runs in a
    worker thread, never on the event loop. Call `prewarm()` (or `load()`) before use;
    nothing is loaded on construction.
    """

    def __init__(
        self,
        *,
        transcriber: WhisperTranscriber | None = None,
        interim_interval_s: float = INTERIM_INTERVAL_S,
        min_silence_s: float = MIN_SILENCE_S,
        vad_threshold_dbfs: float = -42.0,
    ) -> None:
        """`interim_interval_s` (0.05..5) s of speech between interims; `min_silence_s`
        (0.02..5) s of silence ending a segment; `vad_threshold_dbfs` (-80..0)."""
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=True, offline_recognize=True
            )
        )
        self._vad = EnergyVad(threshold_dbfs=vad_threshold_dbfs, min_silence_s=min_silence_s)
        # validates interim_interval_s once, here
        SpeechSegmenter(vad=self._vad, interim_interval_s=interim_interval_s)
        self._interim_interval_s = interim_interval_s
        self._transcriber = transcriber or WhisperTranscriber()

    @property
    def model(self) -> str:
        return "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "local"

    @property
    def transcriber(self) -> WhisperTranscriber:
        """The shared Whisper instance (one per process is enough)."""
        return self._transcriber

    def load(self) -> None:
        """Load Whisper now (blocking, ~0.5 s)."""
        self._transcriber.load()

    def prewarm(self) -> None:
        self.load()

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        frame = rtc.combine_audio_frames(buffer)
        samples = frame_to_samples_16k(frame)
        self._require_loaded()
        text = await asyncio.to_thread(self._transcriber.transcribe, samples)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            alternatives=[stt.SpeechData(language=LANGUAGE, text=text, confidence=1.0)],
        )

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> LocalSpeechStream:
        self._require_loaded()
        return LocalSpeechStream(
            stt=self,
            conn_options=conn_options,
            segmenter=SpeechSegmenter(vad=self._vad, interim_interval_s=self._interim_interval_s),
        )

    def _require_loaded(self) -> None:
        if not self._transcriber.loaded:
            raise RuntimeError("LocalSTT.prewarm() (or load()) must be called before use")


def frame_to_samples_16k(frame: rtc.AudioFrame) -> npt.NDArray[np.float32]:
    """Mono float32 16 kHz samples of an int16 LiveKit frame (any rate, any channels)."""
    data = np.frombuffer(frame.data, dtype=np.int16).astype(np.float32) / 32768.0
    if frame.num_channels > 1:
        data = data.reshape(-1, frame.num_channels).mean(axis=1)
    if frame.sample_rate != SAMPLE_RATE_HZ:
        import soxr

        data = soxr.resample(data, frame.sample_rate, SAMPLE_RATE_HZ).astype(np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


class LocalSpeechStream(stt.RecognizeStream):
    """One recognition stream; input is resampled to 16 kHz by the base class."""

    def __init__(
        self,
        *,
        stt: LocalSTT,
        conn_options: APIConnectOptions,
        segmenter: SpeechSegmenter,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=SAMPLE_RATE_HZ)
        self._local_stt = stt
        self._segmenter = segmenter
        self._jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._busy = False

    async def _run(self) -> None:
        worker = asyncio.create_task(self._work(), name="LocalSpeechStream.work")
        t0: float | None = None
        try:
            async for item in self._input_ch:
                if isinstance(item, self._FlushSentinel):
                    events = self._segmenter.flush()
                else:
                    if t0 is None:
                        t0 = time.time()
                    events = self._segmenter.push(frame_to_samples_16k(item))
                for ev in events:
                    self._dispatch(ev, t0 or time.time())
            for ev in self._segmenter.flush():
                self._dispatch(ev, t0 or time.time())
            self._jobs.put_nowait(None)
            await worker
        finally:
            await utils.aio.cancel_and_wait(worker)

    def _dispatch(self, ev: SegmenterEvent, t0: float) -> None:
        match ev.type:
            case SegmenterEventType.START:
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH)
                )
            case SegmenterEventType.INTERIM:
                # a streaming provider drops partials it cannot keep up with
                if not self._busy and self._jobs.empty():
                    self._jobs.put_nowait(_Job(ev, t0))
            case SegmenterEventType.END:
                self._jobs.put_nowait(_Job(ev, t0))

    async def _work(self) -> None:
        transcriber = self._local_stt.transcriber
        while (job := await self._jobs.get()) is not None:
            ev = job.event
            self._busy = True
            try:
                started = time.perf_counter()
                text = await asyncio.to_thread(
                    transcriber.transcribe,
                    ev.audio,
                    interim=ev.type is not SegmenterEventType.END,
                )
                inference_s = time.perf_counter() - started
            finally:
                self._busy = False
            is_final = ev.type is SegmenterEventType.END
            logger.debug(
                "segment %d %s after %.3f s inference",
                ev.segment_index,
                "final" if is_final else "interim",
                inference_s,
            )
            if text:
                data = stt.SpeechData(
                    language=LANGUAGE,
                    text=text,
                    start_time=ev.start_s + self.start_time_offset,
                    end_time=ev.at_s + self.start_time_offset,
                    confidence=1.0,
                )
                kind = (
                    stt.SpeechEventType.FINAL_TRANSCRIPT
                    if is_final
                    else stt.SpeechEventType.INTERIM_TRANSCRIPT
                )
                self._event_ch.send_nowait(stt.SpeechEvent(type=kind, alternatives=[data]))
            if is_final:
                self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH))
