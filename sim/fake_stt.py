"""A scripted streaming STT for session tests: real audio segmentation, known words.

The production STT is a network service; tests replace it with this: speech segments are
found in the audio the session really sends (energy VAD, like `LocalSTT`), and segment `i`
is "recognized" as `texts[i]`: interim hypotheses grow word by word while the segment is
open, the final arrives `final_delay_s` after the segment closes. No model, no thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from livekit.agents import LanguageCode, stt, utils
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)
from livekit.plugins.local_whisper.model import (
    SAMPLE_RATE_HZ,
    VAD_THRESHOLD_DBFS,
    EnergyVad,
    SegmenterEvent,
    SegmenterEventType,
    SpeechSegmenter,
)
from livekit.plugins.local_whisper.stt import frame_to_samples_16k

WORDS_PER_S = 3.0
"""Rate at which interim hypotheses reveal the scripted words."""
LANGUAGE = LanguageCode("en")


class ScriptedSTT(stt.STT[Any]):
    """Streaming STT whose recognized text is scripted per speech segment.

    `texts[i]` is the transcript of the i-th segment across all streams of this instance
    (segments beyond the script are recognized as ""). `min_silence_s` closes a segment;
    keep it above the pauses inside one scripted utterance.
    """

    def __init__(
        self,
        texts: list[str],
        *,
        min_silence_s: float = 0.6,
        final_delay_s: float = 0.25,
        interim_interval_s: float = 0.3,
        stalls_s: Mapping[int, float] | None = None,
        interims: Mapping[int, str] | None = None,
        threshold_dbfs: float = VAD_THRESHOLD_DBFS,
    ) -> None:
        """`min_silence_s` (0.02..5), `final_delay_s` (0..3) provider latency of finals,
        `interim_interval_s` (0.05..5). `stalls_s` maps a segment index to extra seconds
        (0..10) its transcripts are held back: no interims, the final that much later (a
        recogniser stalled on a long decode). `interims` maps a segment index to the text
        every interim hypothesis of that segment shows, whole, instead of a growing prefix
        of the scripted one (a recogniser that mishears, "Hot." for "uh huh", and corrects
        it in the final). `threshold_dbfs` (-80..0): frame level that is speech to the
        segmenter (raise it above a test's background noise: a recogniser whose own
        endpointing does not take that noise for words)."""
        if not 0.0 <= final_delay_s <= 3.0:
            raise ValueError(f"final_delay_s must be in 0..3, got {final_delay_s}")
        stalls = dict(stalls_s or {})
        if any(not 0.0 <= v <= 10.0 for v in stalls.values()):
            raise ValueError(f"stalls_s values must be in 0..10 s, got {stalls}")
        super().__init__(
            capabilities=stt.STTCapabilities(
                streaming=True, interim_results=True, offline_recognize=False
            )
        )
        self._texts = list(texts)
        self._interims = dict(interims or {})
        self._vad = EnergyVad(min_silence_s=min_silence_s, threshold_dbfs=threshold_dbfs)
        self._interim_interval_s = interim_interval_s
        SpeechSegmenter(vad=self._vad, interim_interval_s=interim_interval_s)
        self.final_delay_s = final_delay_s
        self.stalls_s = stalls
        self.segments_seen = 0
        self.interims_sent = 0
        """Interim hypotheses sent from `interims` (scripted apart from the finals)."""

    def next_text(self) -> tuple[str, float, str | None]:
        """Consume the next scripted transcript: its final text, its stall (s) and the text
        of its interims when scripted apart (None: growing prefixes of the final)."""
        i = self.segments_seen
        self.segments_seen += 1
        text = self._texts[i] if i < len(self._texts) else ""
        return text, self.stalls_s.get(i, 0.0), self._interims.get(i)

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        raise NotImplementedError("ScriptedSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return _ScriptedStream(
            stt=self,
            conn_options=conn_options,
            segmenter=SpeechSegmenter(vad=self._vad, interim_interval_s=self._interim_interval_s),
        )


class _ScriptedStream(stt.RecognizeStream):
    def __init__(
        self, *, stt: ScriptedSTT, conn_options: APIConnectOptions, segmenter: SpeechSegmenter
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options, sample_rate=SAMPLE_RATE_HZ)
        self._owner = stt
        self._segmenter = segmenter
        self._text = ""
        self._interim_text: str | None = None
        self._stall_s = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    async def _run(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                events = self._segmenter.flush()
            else:
                events = self._segmenter.push(frame_to_samples_16k(item))
            for ev in events:
                self._handle(ev)
        for ev in self._segmenter.flush():
            self._handle(ev)
        if self._pending:
            await asyncio.gather(*self._pending)

    def _handle(self, ev: SegmenterEvent) -> None:
        match ev.type:
            case SegmenterEventType.START:
                self._text, self._stall_s, self._interim_text = self._owner.next_text()
                self._event_ch.send_nowait(
                    stt.SpeechEvent(type=stt.SpeechEventType.START_OF_SPEECH)
                )
            case SegmenterEventType.INTERIM if self._stall_s == 0.0 and self._interim_text:
                self._owner.interims_sent += 1
                self._send(stt.SpeechEventType.INTERIM_TRANSCRIPT, self._interim_text)
            case SegmenterEventType.INTERIM if self._stall_s == 0.0:
                words = self._text.split()
                k = min(len(words), int((ev.at_s - ev.start_s) * WORDS_PER_S))
                if k > 0:
                    self._send(stt.SpeechEventType.INTERIM_TRANSCRIPT, " ".join(words[:k]))
            case SegmenterEventType.END:
                task = asyncio.create_task(self._final(self._text, self._stall_s))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def _final(self, text: str, stall_s: float) -> None:
        await asyncio.sleep(self._owner.final_delay_s + stall_s)
        if text:
            self._send(stt.SpeechEventType.FINAL_TRANSCRIPT, text)
        self._event_ch.send_nowait(stt.SpeechEvent(type=stt.SpeechEventType.END_OF_SPEECH))

    def _send(self, kind: stt.SpeechEventType, text: str) -> None:
        self._event_ch.send_nowait(
            stt.SpeechEvent(
                type=kind,
                alternatives=[stt.SpeechData(language=LANGUAGE, text=text, confidence=1.0)],
            )
        )
