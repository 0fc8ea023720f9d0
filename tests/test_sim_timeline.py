"""The timeline picture's inputs, derived from recorded events alone, and the figure drawn
from them (literal event lists: no session, no clock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.harness import EventKind, TimelineEvent
from sim.lines import USER_CLIPS
from sim.scenes import SCENES, SceneResult
from sim.timeline import StackTimeline, format_result, plot_scene, scene_figure

K = EventKind
OPENING_HEARD = "Sure, here is how to reset your router. First, unplug it"
REPLY = "Sorry, did you want to add something?"


def _ev(at_s: float, kind: EventKind, detail: str = "", **data: Any) -> TimelineEvent:
    return TimelineEvent(at_s, kind, detail, data)


def _result(
    events: list[TimelineEvent], *, stack: str = "framework", scene: str = "backchannel"
) -> SceneResult:
    return SceneResult(
        scene=SCENES[scene],
        stack=stack,
        events=events,
        agent_spans=[],
        user_spans=[],
        stop_latency_s=None,
        reply_latency_s=None,
        llm_calls=sum(1 for e in events if e.kind is K.LLM_CALL),
        history=[],
        duration_s=max(e.at_s for e in events) + 2.5,
    )


def _paused_then_cleared() -> SceneResult:
    """The framework's answer to a backchannel: pause, clear, a turn and a reply."""
    return _result(
        [
            _ev(0.0, K.AUDIO_STARTED, segment=0),
            _ev(4.6, K.USER_SPEECH_START, "uh_huh"),
            _ev(5.0, K.USER_SPEECH_END, "uh_huh"),
            _ev(5.2, K.AUDIO_PAUSED, segment=0),
            _ev(5.5, K.FINAL, "Uh-huh."),
            _ev(5.5, K.AUDIO_CLEARED, segment=0),
            _ev(5.5, K.ASSISTANT_MESSAGE, OPENING_HEARD, interrupted=True),
            _ev(5.7, K.LLM_CALL, 'user: "Uh-huh."'),
            _ev(5.7, K.USER_TURN, "Uh-huh."),
            _ev(6.0, K.AUDIO_STARTED, segment=1),
            _ev(8.1, K.AUDIO_FINISHED, segment=1),
            _ev(8.1, K.ASSISTANT_MESSAGE, REPLY, interrupted=False),
        ]
    )


def _kept_talking() -> SceneResult:
    """Our arbiter's answer: a verdict, and the agent's line plays to its end."""
    return _result(
        [
            _ev(0.0, K.AUDIO_STARTED, segment=0),
            _ev(4.6, K.USER_SPEECH_START, "uh_huh"),
            _ev(5.0, K.USER_SPEECH_END, "uh_huh"),
            _ev(5.3, K.DECISION, "endpoint delay 2.08 s", delay_s=2.08),
            _ev(5.5, K.DECISION, "arbiter: backchannel", label="backchannel"),
            _ev(12.7, K.AUDIO_FINISHED, segment=0),
            _ev(12.7, K.ASSISTANT_MESSAGE, SCENES["backchannel"].opening, interrupted=False),
        ],
        stack="ours",
    )


def test_a_stop_gives_bars_with_words_marks_and_both_brackets() -> None:
    tl = StackTimeline.of(_paused_then_cleared())
    (user,) = tl.user
    assert (user.start_s, user.end_s, user.text) == (4.6, 5.0, USER_CLIPS["uh_huh"])
    cut, reply = tl.agent
    # the interrupted line carries what was heard; the pause is a gap in what played
    assert cut.text == OPENING_HEARD and cut.cut
    assert cut.played == ((0.0, 5.2),) and cut.paused == ((5.2, 5.5),)
    # its words sit on what played, not on the pause before the clear
    assert cut.spoken() == [(0.0, 5.2, OPENING_HEARD.split())]
    assert (reply.start_s, reply.end_s, reply.text, reply.cut) == (6.0, 8.1, REPLY, False)
    assert [(m.at_s, m.kind, m.label) for m in tl.marks] == [
        (5.2, "pause", "pause"),
        (5.5, "stop", "stop"),
        (5.7, "turn", 'turn: "Uh-huh."'),
    ]
    assert [(b.kind, b.start_s, b.end_s, b.ms, b.label) for b in tl.brackets] == [
        ("pause", 4.6, 5.2, 600, "pause after 600 ms"),
        ("reply", 5.0, 6.0, 1000, "reply after 1000 ms"),
    ]
    assert tl.outcome == (
        "agent paused 600 ms after the user began, then stopped; 1 user turn; "
        "reply 1000 ms after the user finished; 1 LLM call"
    )
    assert tl.turns == ("Uh-huh.",) and tl.end_s == 8.1


def test_no_stop_says_the_agent_kept_talking() -> None:
    tl = StackTimeline.of(_kept_talking())
    assert tl.brackets == ()
    assert [(n.at_s, n.text) for n in tl.notes] == [(4.6, "agent kept talking")]
    # the endpointing's plans are not marks; the arbiter's verdict is
    assert [(m.kind, m.label) for m in tl.marks] == [("verdict", "arbiter: backchannel")]
    (agent,) = tl.agent
    assert agent.text == SCENES["backchannel"].opening and not agent.cut
    assert tl.outcome == (
        "agent kept talking over the user (arbiter: backchannel); no user turn; no reply; "
        "0 LLM calls"
    )


def test_a_resumed_pause_is_no_stop_and_the_rest_of_the_line_is_no_reply() -> None:
    tl = StackTimeline.of(
        _result(
            [
                _ev(0.0, K.AUDIO_STARTED, segment=0),
                _ev(2.0, K.USER_SPEECH_START, "uh_huh"),
                _ev(2.4, K.USER_SPEECH_END, "uh_huh"),
                _ev(2.5, K.AUDIO_PAUSED, segment=0),
                _ev(4.5, K.FALSE_INTERRUPTION, "resumed=True", resumed=True),
                _ev(4.5, K.AUDIO_RESUMED, segment=0),
                _ev(8.0, K.AUDIO_FINISHED, segment=0),
                _ev(8.0, K.ASSISTANT_MESSAGE, "One two three four five six.", interrupted=False),
                # a second line of the same speech is still no reply to the user
                _ev(8.3, K.AUDIO_STARTED, segment=1),
                _ev(9.0, K.AUDIO_FINISHED, segment=1),
                _ev(9.0, K.ASSISTANT_MESSAGE, "More.", interrupted=False),
            ]
        )
    )
    first, _ = tl.agent
    assert first.played == ((0.0, 2.5), (4.5, 8.0)) and first.paused == ((2.5, 4.5),)
    # the words are shared out over the two spans that played, by playing time (2.5 : 3.5)
    assert first.spoken() == [
        (0.0, 2.5, ["One", "two", "three"]),
        (4.5, 8.0, ["four", "five", "six."]),
    ]
    assert [m.kind for m in tl.marks] == ["pause", "resume"]
    assert [(b.kind, b.ms) for b in tl.brackets] == [("pause", 500)]
    assert tl.outcome.startswith("agent paused 500 ms after the user began, then resumed; ")
    assert tl.outcome.endswith("no user turn; no reply; 0 LLM calls")


def test_replies_are_bracketed_per_user_part_only_before_the_next_part() -> None:
    def run(mid_reply: bool) -> StackTimeline:
        events = [
            _ev(0.0, K.AUDIO_STARTED, segment=0),
            _ev(2.0, K.AUDIO_FINISHED, segment=0),
            _ev(2.0, K.ASSISTANT_MESSAGE, "What is the best number to reach you?"),
            _ev(2.6, K.USER_SPEECH_START, "number_part1"),
            _ev(4.2, K.USER_SPEECH_END, "number_part1"),
            _ev(5.8, K.USER_SPEECH_START, "number_part2"),
            _ev(8.0, K.USER_SPEECH_END, "number_part2"),
            _ev(8.7, K.USER_TURN, "2 2 3. 4 5 6 7" if mid_reply else "My number is 415. 2 2 3."),
            _ev(8.9, K.AUDIO_STARTED, segment=2 if mid_reply else 1),
            _ev(13.5, K.AUDIO_FINISHED, segment=2 if mid_reply else 1),
            _ev(13.5, K.ASSISTANT_MESSAGE, "Thanks."),
        ]
        if mid_reply:
            events += [
                _ev(4.9, K.USER_TURN, "My number is 415."),
                _ev(5.0, K.AUDIO_STARTED, segment=1),
                _ev(5.6, K.AUDIO_FINISHED, segment=1),
                _ev(5.6, K.ASSISTANT_MESSAGE, "Okay."),
            ]
        return StackTimeline.of(_result(sorted(events, key=lambda e: e.at_s), scene="long-pause"))

    split = run(mid_reply=True)
    assert [b.text for b in split.agent] == [
        "What is the best number to reach you?",
        "Okay.",
        "Thanks.",
    ]
    assert [(b.kind, b.start_s, b.end_s) for b in split.brackets] == [
        ("reply", 4.2, 5.0),
        ("reply", 8.0, 8.9),
    ]
    # the user spoke while the agent was silent: nothing about stopping
    assert split.notes == ()
    assert (
        split.outcome == "2 user turns; replies 800 ms, 900 ms after the user finished; 0 LLM calls"
    )
    whole = run(mid_reply=False)
    assert [(b.kind, b.start_s, b.end_s) for b in whole.brackets] == [("reply", 8.0, 8.9)]
    assert whole.outcome.startswith("1 user turn; reply 900 ms after")


def test_messages_match_their_audio_and_an_open_line_ends_with_the_run() -> None:
    tl = StackTimeline.of(
        _result(
            [
                _ev(0.0, K.AUDIO_STARTED, segment=0),
                _ev(1.0, K.AUDIO_FINISHED, segment=0),
                _ev(1.0, K.ASSISTANT_MESSAGE, "First."),
                # stored without audio (cut before it played): matched to nothing
                _ev(1.5, K.ASSISTANT_MESSAGE, "", interrupted=True),
                _ev(3.0, K.ASSISTANT_MESSAGE, "Late and unrelated."),
                _ev(4.0, K.AUDIO_STARTED, segment=1),
            ]
        )
    )
    first, open_line = tl.agent
    assert first.text == "First."
    assert (open_line.start_s, open_line.end_s, open_line.text) == (4.0, 6.5, "")
    assert open_line.played == ((4.0, 6.5),)


def test_malformed_timelines_are_refused() -> None:
    no_end = _result([_ev(0.0, K.USER_SPEECH_START, "uh_huh")])
    with pytest.raises(ValueError, match="never ends"):
        StackTimeline.of(no_end)
    no_segment = _result([_ev(0.0, K.AUDIO_STARTED)])
    with pytest.raises(ValueError, match="no segment index"):
        StackTimeline.of(no_segment)


def _figure_texts(results: list[SceneResult]) -> list[str]:
    import matplotlib.pyplot as plt

    fig = scene_figure(results, stack_notes={"framework": "LiveKit defaults"})
    try:
        texts = [t.get_text() for t in fig.texts]
        for ax in fig.axes:
            texts += [t.get_text() for t in ax.texts]
        assert len(fig.axes) == len(results)
        # one time axis for every panel
        assert len({ax.get_xlim() for ax in fig.axes}) == 1
        return texts
    finally:
        plt.close(fig)


def test_the_figure_shows_every_word_mark_bracket_and_outcome() -> None:
    results = [_paused_then_cleared(), _kept_talking()]
    texts = _figure_texts(results)
    drawn = " ".join(texts).split()
    for r in results:
        tl = StackTimeline.of(r)
        # the words of every bar, wrapped but all there
        for bar in tl.user + tl.agent:
            for word in bar.text.split():
                assert word in drawn, word
        for label in [m.label for m in tl.marks] + [b.label for b in tl.brackets]:
            assert label in texts
        assert " ".join(tl.outcome.split()) in " ".join(" ".join(texts).split())
    assert texts.count("agent kept talking") == 1
    assert "(LiveKit defaults)" in texts and SCENES["backchannel"].title in texts
    assert "(cut off)" in " ".join(texts)
    assert not any("n/a" in t for t in texts)


def test_plot_scene_writes_one_png_per_scene(tmp_path: Path) -> None:
    png = plot_scene([_paused_then_cleared(), _kept_talking()], tmp_path / "d" / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="one scene"):
        scene_figure([_paused_then_cleared(), _result(_kept_talking().events, scene="code")])
    with pytest.raises(ValueError, match="at least one"):
        scene_figure([])


def test_the_text_timeline_ends_with_what_happened() -> None:
    text = format_result(_kept_talking())
    assert text.splitlines()[-1] == (
        "  => agent kept talking over the user (arbiter: backchannel); no user turn; no reply; "
        "0 LLM calls"
    )
    assert "n/a" not in text
