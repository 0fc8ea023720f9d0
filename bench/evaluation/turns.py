"""`bench turns`: endpoint turns played into a real AgentSession, one session per turn.

Each manifest turn is played once, from the clip's start, into a fresh session of a named
stack (`bench.evaluation.stacks`), on the virtual clock with the models' off-loop work
charged at its measured CPU cost (`sim.virtual_time.ChargedExecutor`), as `bench session`
runs its episodes. The session hears the audio through the real Silero VAD; its
speech-to-text replays the turn's transcript timeline (`TimelineSTT`: the same cached
streaming Whisper timeline the `endpoint` command reads, each result delivered at its
measured time), so a run is fast and repeatable. The agent answers every user turn through
the demo's scripted LLM (`REPLY_TEXT` after 0.3 s to the first token) and its clip speech.
The session runs until `SETTLE_S` after the clip ends; then the item is read off what the
agent's audio output did and the chat history.

Item fields (the contract's, all times in seconds of the clip, 0 = its first sample):

- `agent_spoke_in_pause[i]`: agent audio was audible for a positive time inside pause `i`
  (a playing span `(a, b)` with `a < pause_end` and `b > pause_start`).
- `reply_latency_s`: the agent's reply is the first agent utterance (one output segment)
  first audible at or after `speech_end_s`; the latency is that moment minus
  `speech_end_s`, null when no utterance starts before the clip ends. An utterance first
  heard before `speech_end_s` (talk-over in a pause, still playing, or paused and resumed
  after the end) is never the reply.
- `user_turns`: user messages in the session's chat history at the end.
- `agent_spoke_before_end` (optional extension): agent audio was audible at any time
  before `speech_end_s` (in a pause, or over the user's speech after one).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit.agents import LanguageCode
from livekit.agents import stt as lk_stt
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from bench.datasets.audio import BENCH_SAMPLE_RATE_HZ
from bench.datasets.manifest import EndpointItem, spread_subset
from bench.evaluation.metrics import quantile, rate
from bench.evaluation.runners import (
    InputError,
    SystemRun,
    endpoint_inputs,
    load_endpoint_items,
    load_item_audio,
)
from bench.evaluation.stacks import STACK_NAMES
from bench.evaluation.transcripts import TranscriptCache
from bench.evaluation.types import TranscriptEvent
from sim.audio_io import OutputEvent, OutputEventKind
from sim.clock import SimClock
from sim.lines import AGENT_LINES

logger = logging.getLogger("bench.evaluation.turns")

Progress = Callable[[str], None]

REPLY_TEXT = "Okay."
"""What the agent answers to every user turn (a scripted demo line with a committed clip)."""
REPLY_TTFT_S = 0.3
"""Scripted LLM's time to the first token, seconds."""
CLIP_LEAD_S = 0.5
"""Session time before the clip's first sample, seconds (the session is listening)."""
SETTLE_S = 3.0
"""Session time after the clip's end before the chat history is read, seconds (the
framework's longest endpointing delay, so a turn ending at the clip's end is committed)."""
LANGUAGE = LanguageCode("en")
"""Language the replayed transcripts are reported in."""
TURNS_STACKS = STACK_NAMES
"""Stacks `bench turns` can run."""

Change = tuple[float, int, bool]
"""A change of the agent's audio output: (clip time s, output segment, audible after it)."""


# --- the item, from what the session did (pure) -----------------------------------------


def playing_spans(changes: Sequence[Change], end_s: float) -> list[tuple[float, float]]:
    """(start, end) spans during which agent audio was audible, from output changes in
    time order; a span still open at `end_s` (s) ends there."""
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for at_s, _segment, audible in changes:
        if audible and start is None:
            start = at_s
        elif not audible and start is not None:
            spans.append((start, at_s))
            start = None
    if start is not None:
        spans.append((start, max(start, end_s)))
    return spans


def first_audible_s(changes: Sequence[Change]) -> dict[int, float]:
    """Output segment (one agent utterance) -> the first moment it was audible, seconds;
    a segment never audible (started and cleared while paused) is absent."""
    first: dict[int, float] = {}
    for at_s, segment, audible in changes:
        if audible and segment not in first:
            first[segment] = at_s
    return first


@dataclass(frozen=True)
class TurnObservation:
    """What one session did with one turn, in clip time (seconds from the clip's start)."""

    changes: tuple[Change, ...]
    """Every start, pause, resume, clear and finish of the agent's audio, in time order."""
    end_s: float
    """When the observation ended (the clip's end plus the settle time)."""
    user_turns: int
    """User messages in the chat history at `end_s`."""
    llm_calls: int = 0
    """Replies the LLM was asked for."""


def turn_item(
    item_id: str,
    *,
    pauses: Sequence[tuple[float, float]],
    speech_end_s: float,
    clip_s: float,
    observation: TurnObservation,
) -> dict[str, object]:
    """The report item of one turn (see the module docstring for the rules); `pauses` and
    `speech_end_s` as in the manifest, `clip_s` the clip's length, seconds."""
    spans = [(a, b) for a, b in playing_spans(observation.changes, observation.end_s) if b > a]
    in_pause = [any(a < p1 and b > p0 for a, b in spans) for p0, p1 in pauses]
    starts = [
        t for t in first_audible_s(observation.changes).values() if speech_end_s <= t < clip_s
    ]
    latency = min(starts) - speech_end_s if starts else None
    return {
        "id": item_id,
        "agent_spoke_in_pause": in_pause,
        "reply_latency_s": None if latency is None else round(latency, 4),
        "user_turns": observation.user_turns,
        "agent_spoke_before_end": any(a < speech_end_s for a, _ in spans),
        "llm_calls": observation.llm_calls,
    }


def turns_metrics(items: Sequence[Mapping[str, Any]]) -> dict[str, object]:
    """Figures of one stack over its items: share of turns with talk-over in any pause
    (`talk_over_turns`) and share of pauses (`talk_over_pauses`), with 95 % Wilson
    intervals; share of turns with agent audio before the end (`spoke_before_end`); reply
    latency p50, p90 and mean over the turns that got a reply (`replied` says how many);
    the distribution of user messages per turn (`user_turns`: share with exactly 1, mean,
    histogram)."""
    n = len(items)
    flags = [list(it["agent_spoke_in_pause"]) for it in items]
    lat = [float(it["reply_latency_s"]) for it in items if it["reply_latency_s"] is not None]
    counts = [int(it["user_turns"]) for it in items]
    hist: dict[str, int] = {}
    for c in sorted(counts):
        hist[str(c)] = hist.get(str(c), 0) + 1
    return {
        "n": n,
        "n_pauses": sum(len(f) for f in flags),
        "talk_over_turns": rate(sum(any(f) for f in flags), n),
        "talk_over_pauses": rate(sum(sum(f) for f in flags), sum(len(f) for f in flags)),
        "spoke_before_end": rate(sum(bool(it.get("agent_spoke_before_end")) for it in items), n),
        "replied": rate(len(lat), n),
        "reply_latency_p50_s": quantile(lat, 0.5),
        "reply_latency_p90_s": quantile(lat, 0.9),
        "reply_latency_mean_s": sum(lat) / len(lat) if lat else None,
        "user_turns": {
            "exactly_one": rate(sum(c == 1 for c in counts), n),
            "mean": sum(counts) / n if n else None,
            "histogram": hist,
        },
    }


def finish_turns_metrics(run: SystemRun, n_items: int) -> dict[str, object]:
    """Metrics block of one stack (with its CPU figures and its error, if any)."""
    if run.error and not run.items:
        return {"error": run.error}
    m = turns_metrics(run.items)
    m["cpu"] = run.cpu_block()
    if run.error:
        m["error"] = run.error
    elif len(run.items) != n_items:
        m["error"] = f"{run.name} ran {len(run.items)} of {n_items} items"
    return m


# --- the printed table and the plot -------------------------------------------------------


def _pct(rate: Any) -> str:
    if not isinstance(rate, Mapping) or rate.get("value") is None:
        return "-"
    return f"{100 * float(rate['value']):.1f}%"


def _sec(x: Any) -> str:
    return "-" if x is None else f"{float(x):.2f}"


def turns_table(report: Mapping[str, Any]) -> list[list[str]]:
    """Rows (header first) of the turns summary."""
    rows = [
        [
            "system",
            "talk-over turns",
            "talk-over pauses",
            "spoke before end",
            "reply p50/p90 s",
            "reply mean s",
            "replied",
            "user turns = 1",
            "user turns mean",
            "CPU ms/s",
        ]
    ]
    systems = [(str(report["system"]), report["metrics"])]
    systems += [(n, b["metrics"]) for n, b in report["baselines"].items()]
    for name, m in systems:
        if "n" not in m:
            rows.append([name, "unavailable"] + ["-"] * 8)
            continue
        ut = m["user_turns"]
        cpu = m.get("cpu", {}).get("cpu_ms_per_audio_s")
        rows.append(
            [
                name,
                _pct(m["talk_over_turns"]),
                _pct(m["talk_over_pauses"]),
                _pct(m["spoke_before_end"]),
                f"{_sec(m['reply_latency_p50_s'])}/{_sec(m['reply_latency_p90_s'])}",
                _sec(m["reply_latency_mean_s"]),
                _pct(m["replied"]),
                _pct(ut["exactly_one"]),
                _sec(ut["mean"]),
                "-" if cpu is None else f"{float(cpu):.1f}",
            ]
        )
    return rows


def reply_latency_plot(report: Mapping[str, Any], path: Path) -> Path | None:
    """Histograms of the reply latency per stack (PNG); None when no turn got a reply."""
    series: list[tuple[str, list[float]]] = []
    blocks = [(str(report["system"]), report["items"])]
    blocks += [(n, b["items"]) for n, b in report["baselines"].items()]
    for name, items in blocks:
        vals = [float(it["reply_latency_s"]) for it in items if it["reply_latency_s"] is not None]
        if vals:
            series.append((name, vals))
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    hi = max(max(v) for _, v in series)
    bins = [i * max(hi, 0.1) / 30 for i in range(31)]
    for name, vals in series:
        ax.hist(vals, bins=bins, alpha=0.5, label=f"{name} (n={len(vals)})")
    ax.set_xlabel("reply latency after the end of the turn (s)")
    ax.set_ylabel("turns")
    ax.set_title("turns: when the agent replied")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- speech-to-text: a precomputed timeline replayed on the session's clock ----------------


class TimelineSTT(lk_stt.STT[Any]):
    """Streaming STT that replays a transcript timeline (`TranscriptEvent`s of one clip)
    on the session's clock: each result is sent at the clip's start plus its `at_s`,
    whatever audio the session pushes. A final closes a segment (START_OF_SPEECH before
    its first result, END_OF_SPEECH after its final); results with no text are not sent.
    Call `play` once the clip is scheduled; if the session opens a new stream, it goes on
    from the next result not yet sent."""

    def __init__(self, *, clock: SimClock) -> None:
        super().__init__(
            capabilities=lk_stt.STTCapabilities(
                streaming=True, interim_results=True, offline_recognize=False
            )
        )
        self.clock = clock
        self.events: tuple[TranscriptEvent, ...] = ()
        self.start_s: float | None = None
        """Clock time of the clip's first sample (None until `play`)."""
        self.sent = 0
        """Results of `events` sent so far (by any stream)."""
        self.in_segment = False
        self.active: object | None = None
        """The stream that sends (the newest one)."""
        self._ready = asyncio.Event()

    @property
    def model(self) -> str:
        return "transcript-timeline"

    def play(self, events: Sequence[TranscriptEvent], *, start_s: float) -> None:
        """Replay `events` (sorted by `at_s`, seconds of the clip) from clock time
        `start_s`, seconds."""
        if self.start_s is not None:
            raise RuntimeError("TimelineSTT.play may be called once")
        self.events = tuple(sorted(events, key=lambda e: e.at_s))
        self.start_s = start_s
        self._ready.set()

    async def ready(self) -> None:
        """Return once `play` was called."""
        await self._ready.wait()

    async def _recognize_impl(
        self,
        buffer: Any,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> lk_stt.SpeechEvent:
        raise NotImplementedError("TimelineSTT only streams")

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> lk_stt.RecognizeStream:
        return _TimelineStream(owner=self, conn_options=conn_options)


class _TimelineStream(lk_stt.RecognizeStream):
    def __init__(self, *, owner: TimelineSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=owner, conn_options=conn_options, sample_rate=BENCH_SAMPLE_RATE_HZ)
        self._owner = owner

    async def _run(self) -> None:
        self._owner.active = self
        sender = asyncio.create_task(self._send_all())
        try:
            async for _ in self._input_ch:
                pass  # the results come from the timeline; the audio is only drained
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send_all(self) -> None:
        o = self._owner
        await o.ready()
        assert o.start_s is not None
        while o.sent < len(o.events):
            ev = o.events[o.sent]
            await o.clock.sleep_until(o.start_s + ev.at_s)
            if o.active is not self:
                return
            o.sent += 1
            if not ev.text.strip():
                if ev.is_final and o.in_segment:
                    o.in_segment = False
                    self._event_ch.send_nowait(
                        lk_stt.SpeechEvent(type=lk_stt.SpeechEventType.END_OF_SPEECH)
                    )
                continue
            if not o.in_segment:
                o.in_segment = True
                self._event_ch.send_nowait(
                    lk_stt.SpeechEvent(type=lk_stt.SpeechEventType.START_OF_SPEECH)
                )
            kind = (
                lk_stt.SpeechEventType.FINAL_TRANSCRIPT
                if ev.is_final
                else lk_stt.SpeechEventType.INTERIM_TRANSCRIPT
            )
            self._event_ch.send_nowait(
                lk_stt.SpeechEvent(
                    type=kind,
                    alternatives=[
                        lk_stt.SpeechData(language=LANGUAGE, text=ev.text, confidence=1.0)
                    ],
                )
            )
            if ev.is_final:
                o.in_segment = False
                self._event_ch.send_nowait(
                    lk_stt.SpeechEvent(type=lk_stt.SpeechEventType.END_OF_SPEECH)
                )


# --- one turn through one session -------------------------------------------------------


class TurnRunner:
    """Plays turns into fresh sessions; the models are loaded once and shared."""

    def __init__(
        self,
        *,
        reply_text: str = REPLY_TEXT,
        ttft_s: float = REPLY_TTFT_S,
        settle_s: float = SETTLE_S,
        vad: Any = None,
    ) -> None:
        """`reply_text` one of `sim.lines.AGENT_LINES` (it plays its clip); `ttft_s`
        (0..10) the LLM's time to the first token; `settle_s` (0.5..10) session time
        after the clip, seconds; `vad` default the Silero VAD."""
        if reply_text not in AGENT_LINES:
            raise ValueError(f"reply_text must be one of sim.lines.AGENT_LINES, got {reply_text!r}")
        if not 0.0 <= ttft_s <= 10.0:
            raise ValueError(f"ttft_s must be in 0..10, got {ttft_s}")
        if not 0.5 <= settle_s <= 10.0:
            raise ValueError(f"settle_s must be in 0.5..10, got {settle_s}")
        self._reply_text = reply_text
        self._ttft_s = ttft_s
        self._settle_s = settle_s
        self._vad = vad
        self._models: Any = None
        self._tts: Any = None

    def load(self) -> None:
        """Load the Silero VAD, the turn-taking plugins' weights and the reply's clip
        (blocking, about a second); idempotent."""
        from livekit.plugins.turntaking import load_models

        from sim.tts import ClipLibrary, ClipTTS

        if self._models is None:
            self._models = load_models(load_vad=False)
        if self._vad is None:
            from livekit.plugins import silero

            self._vad = silero.VAD.load()
        if self._tts is None:
            self._tts = ClipTTS(library=ClipLibrary.from_lines((self._reply_text,)))

    async def run(
        self,
        *,
        audio: Any,
        sample_rate: int,
        transcript: Sequence[TranscriptEvent],
        stack: str,
        speech_end_s: float | None = None,
    ) -> TurnObservation:
        """Play one turn (`audio`: mono samples at `sample_rate` Hz; `transcript`: its
        timeline; `speech_end_s`: end of its last word in the clip, for the recorder's
        timeline, default the clip's end) into a fresh session of `stack`; about lead +
        clip + settle seconds of loop time."""
        from bench.evaluation.stacks import session_stack
        from sim.harness import SimHarness
        from sim.llm import ScriptedLLM

        if stack not in TURNS_STACKS:
            raise ValueError(f"unknown stack {stack!r}: choose one of {', '.join(TURNS_STACKS)}")
        self.load()
        clock = SimClock()
        stt = TimelineSTT(clock=clock)
        llm = ScriptedLLM(default_reply=self._reply_text, ttft_s=self._ttft_s)
        h = await SimHarness.start(
            stack=session_stack(stack),
            stt=stt,
            vad=self._vad,
            llm=llm,
            tts=self._tts,
            models=self._models,
            clock=clock,
            # the result is read before the close: waiting for a transcript then only costs
            session_kwargs={"session_close_transcript_timeout": 0.0},
        )
        try:
            changes: list[tuple[float, int, bool]] = []
            forward = h.audio_out.on_event
            out = h.audio_out

            def on_event(ev: OutputEvent) -> None:
                # audible after the event: a segment that starts while the output is paused
                # is silent until resumed; a clear or a finish ends what played
                audible = ev.kind is OutputEventKind.RESUMED or (
                    ev.kind is OutputEventKind.STARTED and out.playing
                )
                changes.append((ev.at_s, ev.segment, audible))
                if forward is not None:
                    forward(ev)

            out.on_event = on_event
            clip = h.schedule_user(
                audio,
                sample_rate,
                clock.now() + CLIP_LEAD_S,
                label="turn",
                speech_end_offset_s=speech_end_s,
            )
            stt.play(transcript, start_s=clip.start_s)
            end = clip.end_s + self._settle_s
            await clock.sleep_until(end)
            user_turns = sum(1 for m in h.session.history.messages() if m.role == "user")
            return TurnObservation(
                changes=tuple((t - clip.start_s, seg, a) for t, seg, a in changes),
                end_s=end - clip.start_s,
                user_turns=user_turns,
                llm_calls=len(llm.calls),
            )
        finally:
            await h.aclose()


# --- the command's runner ---------------------------------------------------------------


@dataclass(frozen=True)
class TurnInput:
    """One manifest turn as the sessions hear it (picklable: audio is read from `item`)."""

    index: int
    """Position in the (limited) manifest."""
    item: EndpointItem
    duration_s: float
    transcript: tuple[TranscriptEvent, ...]


@dataclass
class _StackPart:
    """One stack's results in one process: (index, item, cpu s, audio s) rows and the
    index and message of its first failure."""

    rows: list[tuple[int, dict[str, object], float, float]] = field(default_factory=list)
    failed: tuple[int, str] | None = None


def run_turns(
    manifest: Path,
    names: Sequence[str],
    *,
    stt: TranscriptCache,
    progress: Progress = lambda _m: None,
    limit: int | None = None,
    jobs: int = 1,
) -> tuple[list[SystemRun], dict[str, Any]]:
    """Every turn of `manifest` through a session of each named stack; `limit`: see
    `spread_subset`; `jobs` (>= 1) processes, each taking every `jobs`-th turn, results
    merged back in manifest order (a stack that fails on a turn keeps only its results
    before it). Unknown stack names are reported as unavailable."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    items = spread_subset(load_endpoint_items(manifest), limit)
    inputs = [
        TurnInput(k, inp.item, inp.duration_s, tuple(inp.transcript))
        for k, inp in enumerate(endpoint_inputs(manifest, items, stt))
    ]
    runs = [SystemRun(name=n, system=n) for n in names]
    usable = []
    for run in runs:
        if run.name in TURNS_STACKS:
            usable.append(run.name)
        else:
            run.error = f"unknown stack {run.name!r}; known: {', '.join(TURNS_STACKS)}"
            progress(f"system {run.name} unavailable: {run.error}")
    if usable:
        if jobs > 1 and len(inputs) > 1:
            parts = _turns_parallel(inputs, usable, min(jobs, len(inputs)), progress)
        else:
            parts = [_turns_chunk_in_process(inputs, usable, progress)]
        for run in runs:
            if run.name in usable:
                _merge(run, [p[run.name] for p in parts])
    return runs, {"n": len(inputs), "clock": "virtual"}


def _merge(run: SystemRun, parts: Sequence[_StackPart]) -> None:
    rows = sorted((r for p in parts for r in p.rows), key=lambda r: r[0])
    fails = [p.failed for p in parts if p.failed is not None]
    if fails:
        at, msg = min(fails)
        rows = [r for r in rows if r[0] < at]
        run.error = msg
    for _, item, cpu, audio in rows:
        run.items.append(item)
        run.item_cpu_s.append(cpu)
        run.item_audio_s.append(audio)
        run.cpu_s += cpu
        run.audio_s += audio


def _turns_chunk_in_process(
    inputs: Sequence[TurnInput], names: Sequence[str], progress: Progress
) -> dict[str, _StackPart]:
    """Run `inputs` through every stack in this process, on the virtual clock."""
    try:
        virtual_time = importlib.import_module("sim.virtual_time")
    except ImportError as exc:
        raise InputError(f"session driver unavailable ({exc})") from exc
    runner = TurnRunner()
    runner.load()  # plugins register on the main thread
    parts = {n: _StackPart() for n in names}
    charged = virtual_time.ChargedExecutor()
    virtual_time.run_virtual(_turns_loop(runner, inputs, parts, progress), default_executor=charged)
    progress(f"turns: {charged.calls} off-loop calls charged {charged.charged_s:.1f} s")
    return parts


async def _turns_loop(
    runner: TurnRunner,
    inputs: Sequence[TurnInput],
    parts: Mapping[str, _StackPart],
    progress: Progress,
) -> None:
    for k, inp in enumerate(inputs):
        audio = load_item_audio(inp.item.audio)
        for name, part in parts.items():
            if part.failed is not None:
                continue
            t0 = time.process_time()
            try:
                obs = await runner.run(
                    audio=audio,
                    sample_rate=BENCH_SAMPLE_RATE_HZ,
                    transcript=inp.transcript,
                    stack=name,
                    speech_end_s=inp.item.speech_end_s,
                )
            except Exception as exc:  # a broken stack must not end the run
                msg = f"{name} failed on {inp.item.id}: {type(exc).__name__}: {exc}"
                part.failed = (inp.index, msg)
                progress(msg)
                continue
            item = turn_item(
                inp.item.id,
                pauses=inp.item.pauses,
                speech_end_s=inp.item.speech_end_s,
                clip_s=inp.duration_s,
                observation=obs,
            )
            part.rows.append((inp.index, item, time.process_time() - t0, inp.duration_s))
        if (k + 1) % 10 == 0:
            progress(f"turns: {k + 1}/{len(inputs)} items")


def _turns_worker(
    inputs: Sequence[TurnInput], names: Sequence[str], log_levels: dict[str, int]
) -> dict[str, _StackPart]:
    """Worker-process body of `_turns_parallel` (progress goes to the log)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name, level in log_levels.items():
        logging.getLogger(name).setLevel(level)
    return _turns_chunk_in_process(inputs, names, lambda m: logger.warning("%s", m))


def _turns_parallel(
    inputs: Sequence[TurnInput], names: Sequence[str], jobs: int, progress: Progress
) -> list[dict[str, _StackPart]]:
    chunks = [list(inputs[k::jobs]) for k in range(jobs)]
    log_levels = {
        n: logging.getLogger(n).getEffectiveLevel() for n in ("", "livekit.plugins.silero")
    }
    # spawn: the parent may hold model runtimes and threads that do not survive a fork
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = [pool.submit(_turns_worker, c, list(names), log_levels) for c in chunks]
        parts: list[dict[str, _StackPart]] = []
        for k, fut in enumerate(futures):
            parts.append(fut.result())
            progress(f"turns: process {k + 1}/{jobs} done ({len(chunks[k])} items)")
    return parts
