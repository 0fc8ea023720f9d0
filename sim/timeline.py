"""Readable timelines of scene runs: a text printout and a PNG per scene.

Everything drawn is derived from the recorder's events (`StackTimeline.of`): the user's
speech bars carry the clip's words, the agent's bars the words it spoke (an interrupted line
as stored: cut to what was heard), pause / resume / stop / turn-commit / verdict moments are
marked, and two kinds of latency are bracketed: user onset -> agent pause or stop (when the
user spoke over the agent) and end of user speech -> start of the agent's reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sim.harness import EventKind, TimelineEvent
from sim.lines import USER_CLIPS
from sim.scenes import SceneResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_SHOWN = (
    EventKind.USER_SPEECH_START,
    EventKind.USER_SPEECH_END,
    EventKind.AUDIO_STARTED,
    EventKind.AUDIO_PAUSED,
    EventKind.AUDIO_RESUMED,
    EventKind.AUDIO_CLEARED,
    EventKind.AUDIO_FINISHED,
    EventKind.INTERIM,
    EventKind.FINAL,
    EventKind.USER_TURN,
    EventKind.ASSISTANT_MESSAGE,
    EventKind.FALSE_INTERRUPTION,
    EventKind.LLM_CALL,
    EventKind.DECISION,
    EventKind.AUDIO_DUCKED,
    EventKind.AUDIO_RESTORED,
)
_MAX_TEXT = 70
_MAX_TURN_LABEL = 40
"""Characters of a committed user turn shown in its mark's label."""
_MESSAGE_LAG_S = 1.0
"""How long after its audio ended an assistant message may be stored and still be matched
to that audio, seconds (the session stores it as playout ends: milliseconds in practice)."""
_CLOCK_SLACK_S = 0.05
"""A message may be stamped this much before its audio's end event and still match it,
seconds (both read one clock, but the order of callbacks at one moment is not fixed)."""
_CUT_SUFFIX = "… (cut off)"
"""Appended to an interrupted line's words, kept on one line."""

MarkKind = Literal["pause", "resume", "stop", "turn", "verdict", "duck", "restore"]
BracketKind = Literal["pause", "stop", "reply"]


@dataclass(frozen=True)
class SpeechBar:
    """One stretch of speech on a lane (clock seconds)."""

    start_s: float
    end_s: float
    text: str
    """The words: the clip's text for the user; for the agent the stored message (cut to
    what was heard when interrupted), "" when the session stored none."""
    played: tuple[tuple[float, float], ...] = ()
    """Agent only: the spans during which its audio actually played (gaps: paused)."""
    paused: tuple[tuple[float, float], ...] = ()
    """Agent only: the spans during which its audio was paused."""
    cut: bool = False
    """Agent only: the audio was cleared (interrupted) before the line ended."""

    def spoken(self) -> list[tuple[float, float, list[str]]]:
        """The words laid on the spans that played, (start_s, end_s, words) per span, so
        none sits over a pause. Across a pause the words are shared out in proportion to
        each span's playing time (speech of even pace; the session stores no word times)."""
        spans = list(self.played) or [(self.start_s, self.end_s)]
        words = self.text.split()
        total_s = sum(b - a for a, b in spans)
        if len(spans) == 1 or total_s <= 0:
            return [(spans[0][0], spans[0][1], words)] + [(a, b, []) for a, b in spans[1:]]
        # each word goes to the span in which the middle of its characters is spoken
        mids: list[float] = []
        pos = 0
        for w in words:
            mids.append(pos + (len(w) + 1) / 2)
            pos += len(w) + 1
        out: list[tuple[float, float, list[str]]] = []
        done_s, i = 0.0, 0
        for k, (a, b) in enumerate(spans):
            done_s += b - a
            upto = float("inf") if k == len(spans) - 1 else pos * done_s / total_s
            chunk: list[str] = []
            while i < len(words) and mids[i] <= upto:
                chunk.append(words[i])
                i += 1
            out.append((a, b, chunk))
        return out


@dataclass(frozen=True)
class Mark:
    """A moment worth a vertical line and a short label."""

    at_s: float
    kind: MarkKind
    label: str


@dataclass(frozen=True)
class Bracket:
    """A latency: user onset -> agent pause/stop, or end of user speech -> agent reply."""

    kind: BracketKind
    start_s: float
    end_s: float

    @property
    def ms(self) -> int:
        """The latency, milliseconds (rounded)."""
        return round((self.end_s - self.start_s) * 1000)

    @property
    def label(self) -> str:
        """Short text for the bracket, e.g. "pause after 583 ms"."""
        return f"{self.kind} after {self.ms} ms"


@dataclass(frozen=True)
class Note:
    """A short text at a moment on the latency band (e.g. "agent kept talking")."""

    at_s: float
    text: str


@dataclass(frozen=True)
class StackTimeline:
    """The drawing inputs of one run: bars, marks, brackets and a one-line outcome."""

    stack: str
    user: tuple[SpeechBar, ...]
    agent: tuple[SpeechBar, ...]
    marks: tuple[Mark, ...]
    brackets: tuple[Bracket, ...]
    notes: tuple[Note, ...]
    outcome: str
    """What happened, in words (no "n/a": a missing stop reads "agent kept talking")."""
    end_s: float
    """Clock time of the last thing drawn, seconds."""
    turns: tuple[str, ...] = field(default=())
    """Committed user turns, in order (text)."""

    @staticmethod
    def of(result: SceneResult) -> StackTimeline:
        """Derive the drawing inputs from `result.events` alone (ValueError on a malformed
        timeline: a user speech start without its end, agent audio events without a
        segment index)."""
        events = sorted(result.events, key=lambda e: e.at_s)
        user = _user_bars(events)
        agent, segment_ids = _agent_bars(events, result.duration_s)
        marks = _marks(events)
        brackets: list[Bracket] = []
        notes: list[Note] = []
        overlap_phrases: list[str] = []
        for i, bar in enumerate(user):
            next_user_s = user[i + 1].start_s if i + 1 < len(user) else float("inf")
            live = _live_at(agent, bar.start_s)
            if live is not None:
                phrase, stop = _overlap(events, segment_ids[live], bar.start_s)
                verdict = next(
                    (m for m in marks if m.kind == "verdict" and bar.start_s <= m.at_s),
                    None,
                )
                if verdict is not None and verdict.at_s < next_user_s:
                    phrase += f" ({verdict.label})"
                overlap_phrases.append(phrase)
                if stop is None:
                    notes.append(Note(bar.start_s, "agent kept talking"))
                else:
                    brackets.append(stop)
            reply = _reply(agent, bar, next_user_s)
            if reply is not None:
                brackets.append(reply)
        turns = tuple(e.detail for e in events if e.kind is EventKind.USER_TURN)
        llm_calls = sum(1 for e in events if e.kind is EventKind.LLM_CALL)
        outcome = _outcome(overlap_phrases, turns, brackets, bool(user), llm_calls)
        last = max(
            [e.at_s for e in events]
            + [b.end_s for b in user]
            + [b.end_s for b in agent if b.text or b.played],
            default=0.0,
        )
        return StackTimeline(
            stack=result.stack,
            user=tuple(user),
            agent=tuple(agent),
            marks=tuple(marks),
            brackets=tuple(brackets),
            notes=tuple(notes),
            outcome=outcome,
            end_s=last,
            turns=turns,
        )


def _user_bars(events: list[TimelineEvent]) -> list[SpeechBar]:
    ends = [e for e in events if e.kind is EventKind.USER_SPEECH_END]
    taken: set[int] = set()
    bars: list[SpeechBar] = []
    for start in (e for e in events if e.kind is EventKind.USER_SPEECH_START):
        match = next(
            (
                i
                for i, e in enumerate(ends)
                if i not in taken and e.detail == start.detail and e.at_s >= start.at_s
            ),
            None,
        )
        if match is None:
            raise ValueError(
                f"user speech {start.detail!r} starts at {start.at_s:.2f} s but never ends"
            )
        taken.add(match)
        text = USER_CLIPS.get(start.detail, start.detail)
        bars.append(SpeechBar(start.at_s, ends[match].at_s, text))
    return bars


_AUDIO_KINDS = (
    EventKind.AUDIO_STARTED,
    EventKind.AUDIO_PAUSED,
    EventKind.AUDIO_RESUMED,
    EventKind.AUDIO_CLEARED,
    EventKind.AUDIO_FINISHED,
)


@dataclass
class _Segment:
    start_s: float
    playing_since: float | None
    paused_since: float | None = None
    played: list[tuple[float, float]] = field(default_factory=list)
    paused: list[tuple[float, float]] = field(default_factory=list)
    end_s: float | None = None
    cut: bool = False


def _agent_bars(
    events: list[TimelineEvent], duration_s: float
) -> tuple[list[SpeechBar], list[int]]:
    segments: dict[int, _Segment] = {}
    for e in events:
        if e.kind not in _AUDIO_KINDS:
            continue
        seg_id = e.data.get("segment")
        if not isinstance(seg_id, int):
            raise ValueError(f"{e.kind.value} at {e.at_s:.2f} s has no segment index")
        if e.kind is EventKind.AUDIO_STARTED:
            segments[seg_id] = _Segment(start_s=e.at_s, playing_since=e.at_s)
            continue
        seg = segments.get(seg_id)
        if seg is None or seg.end_s is not None:
            continue
        if seg.playing_since is not None and e.kind is not EventKind.AUDIO_RESUMED:
            seg.played.append((seg.playing_since, e.at_s))
            seg.playing_since = None
        if seg.paused_since is not None and e.kind is not EventKind.AUDIO_PAUSED:
            seg.paused.append((seg.paused_since, e.at_s))
            seg.paused_since = None
        match e.kind:
            case EventKind.AUDIO_PAUSED:
                seg.paused_since = seg.paused_since if seg.paused_since is not None else e.at_s
            case EventKind.AUDIO_RESUMED:
                seg.playing_since = seg.playing_since if seg.playing_since is not None else e.at_s
            case EventKind.AUDIO_CLEARED:
                seg.end_s, seg.cut = e.at_s, True
            case _:
                seg.end_s = e.at_s
    for seg in segments.values():
        if seg.end_s is None:  # still open when the run ended
            seg.end_s = max(duration_s, seg.start_s)
            if seg.playing_since is not None:
                seg.played.append((seg.playing_since, seg.end_s))
            if seg.paused_since is not None:
                seg.paused.append((seg.paused_since, seg.end_s))
    ids = sorted(segments, key=lambda k: segments[k].start_s)
    ordered = [segments[k] for k in ids]
    bars = [
        SpeechBar(
            seg.start_s,
            seg.start_s if seg.end_s is None else seg.end_s,
            text,
            played=tuple(seg.played),
            paused=tuple(seg.paused),
            cut=seg.cut,
        )
        for seg, text in zip(ordered, _message_texts(events, ordered), strict=True)
    ]
    return bars, ids


def _message_texts(events: list[TimelineEvent], segments: list[_Segment]) -> list[str]:
    """Each segment's stored assistant message: a message belongs to the latest segment
    that ended at most `_MESSAGE_LAG_S` before it and has none yet."""
    texts = [""] * len(segments)
    for msg in (e for e in events if e.kind is EventKind.ASSISTANT_MESSAGE and e.detail):
        candidates = [
            i
            for i, seg in enumerate(segments)
            if not texts[i]
            and seg.end_s is not None
            and msg.at_s - _MESSAGE_LAG_S <= seg.end_s <= msg.at_s + _CLOCK_SLACK_S
        ]
        if candidates:
            texts[max(candidates, key=lambda i: segments[i].end_s or 0.0)] = msg.detail
    return texts


def _marks(events: list[TimelineEvent]) -> list[Mark]:
    marks: list[Mark] = []
    for e in events:
        match e.kind:
            case EventKind.AUDIO_PAUSED:
                marks.append(Mark(e.at_s, "pause", "pause"))
            case EventKind.AUDIO_RESUMED:
                marks.append(Mark(e.at_s, "resume", "resume"))
            case EventKind.AUDIO_CLEARED:
                marks.append(Mark(e.at_s, "stop", "stop"))
            case EventKind.USER_TURN:
                marks.append(Mark(e.at_s, "turn", f'turn: "{_clip(e.detail, _MAX_TURN_LABEL)}"'))
            case EventKind.AUDIO_DUCKED:
                # placed where the listener hears it
                marks.append(Mark(float(e.data["heard_at_s"]), "duck", "duck"))
            case EventKind.AUDIO_RESTORED:
                marks.append(Mark(float(e.data["heard_at_s"]), "restore", "full"))
            case EventKind.DECISION if "label" in e.data:
                marks.append(Mark(e.at_s, "verdict", f"arbiter: {e.data['label']}"))
            case _:
                pass
    return marks


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _live_at(agent: list[SpeechBar], t_s: float) -> int | None:
    """Index of the agent bar whose audio was playing at `t_s`."""
    for i, bar in enumerate(agent):
        if any(a <= t_s < b for a, b in bar.played):
            return i
    return None


def _overlap(
    events: list[TimelineEvent], seg_id: int, onset_s: float
) -> tuple[str, Bracket | None]:
    """What the agent's audio did after a user onset over it: a phrase and the bracket."""
    own = [
        e
        for e in events
        if e.kind in _AUDIO_KINDS and e.data.get("segment") == seg_id and e.at_s >= onset_s
    ]
    stop = next(
        (e for e in own if e.kind in (EventKind.AUDIO_PAUSED, EventKind.AUDIO_CLEARED)), None
    )
    duck = next((e for e in events if e.kind is EventKind.AUDIO_DUCKED and e.at_s >= onset_s), None)
    if stop is None:
        if duck is not None:
            ms = round((float(duck.data["heard_at_s"]) - onset_s) * 1000)
            return f"agent softened {ms} ms after the user began and kept talking", None
        return "agent kept talking over the user", None
    ms = round((stop.at_s - onset_s) * 1000)
    if stop.kind is EventKind.AUDIO_CLEARED:
        return f"agent stopped {ms} ms after the user began", Bracket("stop", onset_s, stop.at_s)
    after = next(
        (
            e
            for e in own
            if e.at_s >= stop.at_s and e.kind in (EventKind.AUDIO_RESUMED, EventKind.AUDIO_CLEARED)
        ),
        None,
    )
    then = (
        "then stayed paused"
        if after is None
        else ("then resumed" if after.kind is EventKind.AUDIO_RESUMED else "then stopped")
    )
    return f"agent paused {ms} ms after the user began, {then}", Bracket(
        "pause", onset_s, stop.at_s
    )


def _reply(agent: list[SpeechBar], user: SpeechBar, next_user_s: float) -> Bracket | None:
    """End of `user` -> the next agent bar's start, if that bar starts before the user's
    next speech and the agent did not simply carry on: a line that was open (playing or
    paused) at the user's end and was not cut went on, so what follows it is no reply."""
    if any(b.start_s <= user.end_s < b.end_s and not b.cut for b in agent):
        return None
    nxt = next((b for b in agent if b.start_s >= user.end_s), None)
    if nxt is None or nxt.start_s >= next_user_s:
        return None
    return Bracket("reply", user.end_s, nxt.start_s)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _outcome(
    overlaps: list[str],
    turns: tuple[str, ...],
    brackets: list[Bracket],
    user_spoke: bool,
    llm_calls: int,
) -> str:
    parts = list(overlaps)
    parts.append("no user turn" if not turns else _plural(len(turns), "user turn"))
    replies = [b for b in brackets if b.kind == "reply"]
    if replies:
        values = ", ".join(f"{b.ms} ms" for b in replies)
        noun = "reply" if len(replies) == 1 else "replies"
        parts.append(f"{noun} {values} after the user finished")
    elif user_spoke:
        parts.append("no reply")
    parts.append(_plural(llm_calls, "LLM call"))
    return "; ".join(parts)


def format_result(result: SceneResult) -> str:
    """The timeline of one run as text lines (clock seconds), ending with what happened."""
    lines = [f"--- {result.scene.name} | stack: {result.stack} ---"]
    for ev in result.events:
        if ev.kind not in _SHOWN:
            continue
        detail = ev.detail
        if ev.kind in (EventKind.INTERIM, EventKind.FINAL, EventKind.USER_TURN):
            detail = f'"{detail}"'
        if ev.kind is EventKind.ASSISTANT_MESSAGE:
            cut = " (interrupted, stored truncated)" if ev.data.get("interrupted") else ""
            detail = f'"{detail}"{cut}'
        if len(detail) > _MAX_TEXT:
            detail = detail[: _MAX_TEXT - 3] + "..."
        lines.append(f"  {ev.at_s:6.2f} s  {ev.kind.value:<32} {detail}")
    lines.append(f"  => {StackTimeline.of(result).outcome}")
    return "\n".join(lines)


# --- the picture ---------------------------------------------------------------------
# Layout is computed in points (1/72 in) from measured text widths, so the words fit their
# bars and labels never overlap whatever the run recorded.

_FIG_W_IN = 12.0
_DPI = 110
_LEFT_PT = 58.0
_RIGHT_PT = 16.0
_WORD_PT = 10.0
"""Font size of the words on the bars, points."""
_LABEL_PT = 9.0
_HEAD_PT = 10.5
_TITLE_PT = 13.0
_LINE_PT = 12.5
"""Line height of wrapped words, points."""
_MAX_LINES = {"user": 2, "agent": 3}
_PAD_PT = 3.0
_ROW_GAP_PT = 5.0
_MARK_ROW_PT = 13.0
_BRACKET_ROW_PT = 25.0
_TICKS_PT = 20.0
_PANEL_GAP_PT = 14.0
_TIME_MARGIN_S = 0.6

_USER_FACE, _USER_EDGE = "#fbd9b5", "#d9822b"
_AGENT_FACE, _AGENT_EDGE = "#c9ddf2", "#3f7cbf"
_MARK_COLORS: dict[MarkKind, str] = {
    "pause": "#e07b00",
    "resume": "#2e8b3e",
    "stop": "#c62828",
    "turn": "#222222",
    "verdict": "#7b3fa0",
    "duck": "#00838f",
    "restore": "#5c9ea6",
}
_BRACKET_COLORS: dict[BracketKind, str] = {
    "pause": "#e07b00",
    "stop": "#c62828",
    "reply": "#3f7cbf",
}


class _Measure:
    """Text widths in points, from the font's outlines (unhinted, so never narrower than
    the rendered text)."""

    def __init__(self) -> None:
        from matplotlib.textpath import TextToPath

        self._paths = TextToPath()
        self._cache: dict[tuple[str, float, str], float] = {}

    def width_pt(self, text: str, size_pt: float, weight: str = "normal") -> float:
        key = (text, size_pt, weight)
        if key not in self._cache:
            from matplotlib.font_manager import FontProperties

            w, _, _ = self._paths.get_text_width_height_descent(
                text, FontProperties(size=size_pt, weight=weight), ismath=False
            )
            self._cache[key] = w
        return self._cache[key]

    def wrap(
        self, words: Sequence[str], width_pt: float, size_pt: float, max_lines: int
    ) -> list[str] | None:
        """Greedy word wrap into `width_pt`; None if a word alone is too wide or more than
        `max_lines` lines are needed."""
        lines: list[str] = []
        for word in words:
            if lines and self.width_pt(f"{lines[-1]} {word}", size_pt) <= width_pt:
                lines[-1] = f"{lines[-1]} {word}"
                continue
            if self.width_pt(word, size_pt) > width_pt:
                return None
            lines.append(word)
        return lines if len(lines) <= max_lines else None

    def fit(
        self, words: Sequence[str], bar_pt: float, room_pt: float, size_pt: float, max_lines: int
    ) -> list[str]:
        """Lines of `words` inside the bar if they fit in `max_lines`, else in the room up to
        the next bar on the lane; else as many lines as needed (the lane grows: no word is
        ever dropped)."""
        width = max(bar_pt, room_pt)
        for w in (bar_pt, width):
            lines = self.wrap(words, w, size_pt, max_lines)
            if lines is not None:
                return lines
        lines = []
        for word in words:
            if lines and self.width_pt(f"{lines[-1]} {word}", size_pt) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines


def _rows(items: list[tuple[float, float]], gap_pt: float) -> list[int]:
    """Row index per (left, right) extent so that items in a row never overlap."""
    order = sorted(range(len(items)), key=lambda i: items[i][0])
    rights: list[float] = []
    rows = [0] * len(items)
    for i in order:
        left, right = items[i]
        row = next((r for r, edge in enumerate(rights) if edge + gap_pt <= left), None)
        if row is None:
            row = len(rights)
            rights.append(right)
        else:
            rights[row] = right
        rows[i] = row
    return rows


@dataclass
class _PanelLayout:
    tl: StackTimeline
    heading: str
    note: str
    outcome_lines: list[str]
    user_words: list[_Words]
    agent_words: list[_Words]
    mark_rows: list[int]
    mark_left_s: list[float]
    band_items: list[tuple[float, float, str, str, float]]
    """Latency band items: (start_s, end_s, label, color, label_left_s); brackets first."""
    band_rows: list[int]
    n_mark_rows: int = 1
    n_band_rows: int = 1


@dataclass(frozen=True)
class _Words:
    """Wrapped words at a time on a lane."""

    start_s: float
    lines: list[str]


def _lane_text(
    m: _Measure, bars: Sequence[SpeechBar], who: str, pt_per_s: float, x_end_s: float
) -> list[_Words]:
    chunks: list[tuple[float, float, list[str]]] = []
    for bar in bars:
        spoken = bar.spoken()
        if bar.cut and bar.text:
            spoken[-1][2].append(_CUT_SUFFIX)
        chunks.extend(spoken)
    out: list[_Words] = []
    for i, (a, b, words) in enumerate(chunks):
        if not words:
            continue
        nxt = chunks[i + 1][0] if i + 1 < len(chunks) else x_end_s
        bar_pt = (b - a) * pt_per_s - 2 * _PAD_PT
        room_pt = (nxt - a) * pt_per_s - 3 * _PAD_PT
        out.append(_Words(a, m.fit(words, bar_pt, room_pt, _WORD_PT, _MAX_LINES[who])))
    return out


def _layout(
    m: _Measure,
    tl: StackTimeline,
    note: str,
    pt_per_s: float,
    x_end_s: float,
    axes_w_pt: float,
) -> _PanelLayout:
    user_words = _lane_text(m, tl.user, "user", pt_per_s, x_end_s)
    agent_words = _lane_text(m, tl.agent, "agent", pt_per_s, x_end_s)
    mark_extents: list[tuple[float, float]] = []
    mark_left_s: list[float] = []
    for mark in tl.marks:
        w = m.width_pt(mark.label, _LABEL_PT)
        left = mark.at_s * pt_per_s + 2.0
        if left + w > axes_w_pt:  # no room on the right: label on the line's left
            left = mark.at_s * pt_per_s - 2.0 - w
        mark_extents.append((left, left + w))
        mark_left_s.append(left / pt_per_s)
    band: list[tuple[float, float, str, str, float]] = []
    band_extents: list[tuple[float, float]] = []
    for b in tl.brackets:
        w = m.width_pt(b.label, _LABEL_PT)
        mid = (b.start_s + b.end_s) / 2 * pt_per_s
        left = min(max(mid - w / 2, 0.0), axes_w_pt - w)
        band.append((b.start_s, b.end_s, b.label, _BRACKET_COLORS[b.kind], left / pt_per_s))
        band_extents.append((min(left, b.start_s * pt_per_s), max(left + w, b.end_s * pt_per_s)))
    for n in tl.notes:
        w = m.width_pt(n.text, _LABEL_PT)
        left = min(n.at_s * pt_per_s, axes_w_pt - w)
        band.append((n.at_s, n.at_s, n.text, "#555555", left / pt_per_s))
        band_extents.append((left, left + w))
    mark_rows = _rows(mark_extents, 6.0)
    band_rows = _rows(band_extents, 10.0)
    outcome = m.wrap(tl.outcome.split(), axes_w_pt, _HEAD_PT, 3) or [tl.outcome]
    return _PanelLayout(
        tl=tl,
        heading=tl.stack,
        note=note,
        outcome_lines=outcome,
        user_words=user_words,
        agent_words=agent_words,
        mark_rows=mark_rows,
        mark_left_s=mark_left_s,
        band_items=band,
        band_rows=band_rows,
        n_mark_rows=max(mark_rows, default=0) + 1,
        n_band_rows=max(band_rows, default=0) + 1,
    )


def scene_figure(
    results: Sequence[SceneResult], *, stack_notes: Mapping[str, str] | None = None
) -> Figure:
    """One figure for a scene: a panel per run (stacked vertically, same time axis) with
    the user's and the agent's speech bars and their words, the marks, the latency brackets
    and a title line saying what happened. `stack_notes` maps a stack name to a short
    description shown beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("scene_figure needs at least one result")
    scenes = {r.scene.name for r in results}
    if len(scenes) != 1:
        raise ValueError(f"scene_figure draws one scene, got {', '.join(sorted(scenes))}")
    notes = dict(stack_notes or {})
    m = _Measure()
    timelines = [StackTimeline.of(r) for r in results]
    x_end_s = max(max(tl.end_s for tl in timelines) + _TIME_MARGIN_S, 1.0)
    axes_w_pt = _FIG_W_IN * 72 - _LEFT_PT - _RIGHT_PT
    pt_per_s = axes_w_pt / x_end_s
    panels = [
        _layout(m, tl, notes.get(tl.stack, ""), pt_per_s, x_end_s, axes_w_pt) for tl in timelines
    ]
    # the same lane heights in every panel, so the stacks compare at a glance
    user_n = max([len(w.lines) for p in panels for w in p.user_words] + [1])
    agent_n = max([len(w.lines) for p in panels for w in p.agent_words] + [1])
    user_h = user_n * _LINE_PT + 2 * _PAD_PT + 4
    agent_h = agent_n * _LINE_PT + 2 * _PAD_PT + 4
    mark_n = max(p.n_mark_rows for p in panels)
    band_n = max(p.n_band_rows for p in panels)
    band_h = band_n * _BRACKET_ROW_PT
    marks_h = mark_n * _MARK_ROW_PT + _ROW_GAP_PT
    axes_h = _PAD_PT + band_h + _ROW_GAP_PT + agent_h + marks_h + user_h + _PAD_PT
    heads_h = [(1 + len(p.outcome_lines)) * (_HEAD_PT * 1.35) + 4 for p in panels]
    title_h = _TITLE_PT * 2.2
    fig_h = title_h + sum(h + axes_h + _TICKS_PT for h in heads_h)
    fig_h += _PANEL_GAP_PT * (len(panels) - 1) + 14.0  # the x label
    fig = plt.figure(figsize=(_FIG_W_IN, fig_h / 72))
    fig.text(
        _LEFT_PT / (_FIG_W_IN * 72),
        1 - _TITLE_PT * 1.4 / fig_h,
        results[0].scene.title,
        fontsize=_TITLE_PT,
        fontweight="bold",
        va="baseline",
    )
    top = fig_h - title_h
    lanes = {
        "band": (_PAD_PT, band_h),
        "agent": (_PAD_PT + band_h + _ROW_GAP_PT, agent_h),
        "marks": (_PAD_PT + band_h + _ROW_GAP_PT + agent_h, marks_h),
        "user": (_PAD_PT + band_h + _ROW_GAP_PT + agent_h + marks_h, user_h),
    }
    for i, (p, head_h) in enumerate(zip(panels, heads_h, strict=True)):
        bottom = top - head_h - axes_h
        ax = fig.add_axes(
            (
                _LEFT_PT / (_FIG_W_IN * 72),
                bottom / fig_h,
                axes_w_pt / (_FIG_W_IN * 72),
                axes_h / fig_h,
            )
        )
        _draw_head(ax, m, p, head_h)
        _draw_panel(ax, p, lanes, axes_h, x_end_s)
        if i == len(panels) - 1:
            ax.set_xlabel("seconds since the scene started", fontsize=_LABEL_PT)
        top = bottom - _TICKS_PT - _PANEL_GAP_PT
    return fig


def _draw_head(ax: Axes, m: _Measure, p: _PanelLayout, head_h: float) -> None:
    from matplotlib.transforms import ScaledTranslation

    fig = ax.figure
    base = ax.transAxes + ScaledTranslation(0, head_h / 72, fig.dpi_scale_trans)
    line_pt = _HEAD_PT * 1.35
    ax.text(
        0,
        1,
        p.heading,
        transform=base + ScaledTranslation(0, -line_pt / 72, fig.dpi_scale_trans),
        fontsize=_HEAD_PT + 0.5,
        fontweight="bold",
        va="baseline",
    )
    if p.note:
        shift = (m.width_pt(p.heading, _HEAD_PT + 0.5, "bold") + 8) / 72
        ax.text(
            0,
            1,
            f"({p.note})",
            transform=base + ScaledTranslation(shift, -line_pt / 72, fig.dpi_scale_trans),
            fontsize=_HEAD_PT - 0.5,
            color="#555555",
            va="baseline",
        )
    for k, line in enumerate(p.outcome_lines):
        ax.text(
            0,
            1,
            line,
            transform=base + ScaledTranslation(0, -(k + 2) * line_pt / 72, fig.dpi_scale_trans),
            fontsize=_HEAD_PT,
            va="baseline",
        )


def _draw_panel(
    ax: Axes,
    p: _PanelLayout,
    lanes: dict[str, tuple[float, float]],
    axes_h: float,
    x_end_s: float,
) -> None:
    from matplotlib.patches import Rectangle

    ax.set_xlim(0, x_end_s)
    ax.set_ylim(0, axes_h)  # y is in points: lanes and rows are laid out in points
    ax.grid(axis="x", alpha=0.25)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", labelsize=_LABEL_PT)
    names = {"user": "user", "marks": "events", "agent": "agent", "band": "latency"}
    ax.set_yticks(
        [lanes[k][0] + lanes[k][1] / 2 for k in names], list(names.values()), fontsize=_LABEL_PT
    )
    ax.tick_params(axis="y", length=0)
    tl = p.tl
    for who, bars, words, face, edge in (
        ("user", tl.user, p.user_words, _USER_FACE, _USER_EDGE),
        ("agent", tl.agent, p.agent_words, _AGENT_FACE, _AGENT_EDGE),
    ):
        y0, h = lanes[who]
        y0, h = y0 + 2, h - 4
        for bar in bars:
            for a, b in bar.played or ((bar.start_s, bar.end_s),):
                ax.add_patch(
                    Rectangle((a, y0), b - a, h, facecolor=face, edgecolor=edge, lw=1.0, zorder=1)
                )
            for a, b in bar.paused:
                ax.add_patch(
                    Rectangle(
                        (a, y0),
                        b - a,
                        h,
                        facecolor="white",
                        edgecolor=edge,
                        hatch="///",
                        lw=0.6,
                        ls="--",
                        alpha=0.5,
                        zorder=1,
                    )
                )
        for w in words:
            ax.annotate(
                "\n".join(w.lines),
                xy=(w.start_s, y0 + h / 2),
                xytext=(_PAD_PT, 0),
                textcoords="offset points",
                fontsize=_WORD_PT,
                va="center",
                ha="left",
                linespacing=1.15,
                zorder=3,
            )
    marks_y0, marks_h = lanes["marks"]
    user_y0 = lanes["user"][0] + 2
    agent_top = lanes["agent"][0] + lanes["agent"][1] - 2
    for mark, row, left_s in zip(tl.marks, p.mark_rows, p.mark_left_s, strict=True):
        color = _MARK_COLORS[mark.kind]
        # the line spans the band between the lanes only: it must not strike out words
        ax.plot(
            [mark.at_s, mark.at_s],
            [agent_top, user_y0],
            color=color,
            lw=1.3,
            ls=(0, (4, 2)),
            zorder=2,
        )
        # the tip points at the lane the moment is about
        if mark.kind in ("turn", "verdict"):
            ax.plot([mark.at_s], [user_y0], marker="^", color=color, markersize=5, zorder=2)
        else:
            ax.plot([mark.at_s], [agent_top], marker="v", color=color, markersize=5, zorder=2)
        ax.text(
            left_s,
            marks_y0 + marks_h - _ROW_GAP_PT / 2 - (row + 0.5) * _MARK_ROW_PT,
            mark.label,
            fontsize=_LABEL_PT,
            color=color,
            va="center",
            ha="left",
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85},
        )
    band_y0, band_h = lanes["band"]
    for (start, end, label, color, left_s), row in zip(p.band_items, p.band_rows, strict=True):
        row_top = band_y0 + band_h - row * _BRACKET_ROW_PT
        line_y = row_top - 6
        if end > start:
            ax.annotate(
                "",
                xy=(start, line_y),
                xytext=(end, line_y),
                arrowprops={
                    "arrowstyle": "|-|,widthA=0.25,widthB=0.25",
                    "color": color,
                    "lw": 1.4,
                    "shrinkA": 0,
                    "shrinkB": 0,
                },
            )
            # guides up to the user's lane, behind the bars so they never cross words
            for x in (start, end):
                ax.plot([x, x], [line_y, user_y0], color=color, lw=0.7, ls=":", zorder=0.5)
        ax.text(
            left_s,
            line_y - 5,
            label,
            fontsize=_LABEL_PT,
            color=color,
            va="top",
            ha="left",
            fontweight="bold" if end > start else "normal",
        )


def plot_scene(
    results: Sequence[SceneResult],
    path: Path,
    *,
    stack_notes: Mapping[str, str] | None = None,
) -> Path:
    """Write `scene_figure(results, stack_notes=...)` to `path` as a PNG; returns `path`."""
    import matplotlib.pyplot as plt

    fig = scene_figure(results, stack_notes=stack_notes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path
