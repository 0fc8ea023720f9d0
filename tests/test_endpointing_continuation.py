"""The continuation guard on literal timelines, and the joining of a continuation to the turn
committed before it (on real ChatContext objects)."""

from __future__ import annotations

import pytest
from livekit.agents import llm
from livekit.plugins.turntaking.endpointing.continuation import (
    ContinuationGuard,
    GuardAction,
    GuardState,
)
from livekit.plugins.turntaking.endpointing.detector import join_continuation


def test_words_before_the_reply_is_heard_withdraw_it() -> None:
    g = ContinuationGuard()
    g.on_commit(10.0)
    g.on_user_speech_start(10.8)
    assert g.state is GuardState.PENDING
    assert g.on_user_words(11.2) is GuardAction.WITHDRAW
    assert g.state is GuardState.IDLE
    assert g.take_merge() and not g.take_merge()  # once
    assert g.withdrawn == 1


def test_a_sound_without_words_withdraws_nothing() -> None:
    g = ContinuationGuard()
    g.on_commit(10.0)
    g.on_user_speech_start(10.4)  # a cough: the VAD hears it, no transcript comes
    g.on_agent_audible(10.7)
    g.on_reply_done()
    assert not g.take_merge()
    assert g.on_user_words(14.0) is GuardAction.NONE


@pytest.mark.parametrize(("resumed_s", "expected"), [(0.3, True), (0.5, True), (0.6, False)])
def test_a_reply_heard_briefly_is_stopped_by_the_users_words(
    resumed_s: float, expected: bool
) -> None:
    g = ContinuationGuard(quick_stop_s=0.5)
    g.on_commit(10.0)
    g.on_agent_audible(10.6)
    g.on_user_speech_start(10.6 + resumed_s)
    action = g.on_user_words(10.6 + resumed_s + 0.4)
    assert (action is GuardAction.WITHDRAW) is expected
    assert g.take_merge() is expected


def test_speech_that_began_before_the_audio_counts_from_its_start() -> None:
    # the user went on while the agent was thinking; the reply became audible before the
    # recogniser's first words: still a continuation, stopped when the words come
    g = ContinuationGuard(quick_stop_s=0.5)
    g.on_commit(10.0)
    g.on_user_speech_start(10.5)
    g.on_agent_audible(10.6)
    assert g.on_user_words(11.4) is GuardAction.WITHDRAW


def test_an_interruption_by_the_arbiter_joins_a_quick_continuation() -> None:
    g = ContinuationGuard(quick_stop_s=0.5)
    g.on_commit(10.0)
    g.on_agent_audible(10.6)
    g.on_user_speech_start(10.9)
    g.on_reply_interrupted()  # the arbiter stopped the agent (it held the words)
    assert g.take_merge()


def test_a_late_interruption_is_a_new_turn() -> None:
    g = ContinuationGuard(quick_stop_s=0.5)
    g.on_commit(10.0)
    g.on_agent_audible(10.6)
    g.on_user_speech_start(12.0)  # the agent had spoken 1.4 s: the user answers it
    assert g.on_user_words(12.4) is GuardAction.NONE
    g.on_reply_interrupted()
    assert not g.take_merge()


def test_nothing_is_withdrawn_without_a_commit() -> None:
    g = ContinuationGuard()
    g.on_agent_audible(1.0)  # the greeting, not a reply
    g.on_user_speech_start(1.2)
    assert g.on_user_words(1.5) is GuardAction.NONE
    assert not g.take_merge()


def test_quick_stop_is_validated() -> None:
    with pytest.raises(ValueError, match=r"quick_stop_s must be in \[0, 2.0\]"):
        ContinuationGuard(quick_stop_s=-0.1)
    with pytest.raises(ValueError, match="quick_stop_s"):
        ContinuationGuard(quick_stop_s=3.0)


def _ctx(*items: llm.ChatItem) -> llm.ChatContext:
    return llm.ChatContext(items=list(items))


def test_join_puts_the_committed_words_first_and_drops_the_withdrawn_reply() -> None:
    q = llm.ChatMessage(role="assistant", content=["What is your number?"])
    first = llm.ChatMessage(role="user", content=["My number is four one five."])
    cut = llm.ChatMessage(role="assistant", content=["Sure, here"], interrupted=True)
    ctx = _ctx(q, first, cut)
    new = llm.ChatMessage(role="user", content=["Two two three."])
    removed = join_continuation(ctx, new)
    assert removed == {first.id, cut.id}
    assert [it.id for it in ctx.items] == [q.id]
    assert new.text_content == "My number is four one five. Two two three."


def test_join_leaves_a_turn_that_ran_a_tool_alone() -> None:
    first = llm.ChatMessage(role="user", content=["Book it for Monday."])
    call = llm.FunctionCall(call_id="c1", name="book", arguments="{}")
    ctx = _ctx(first, call)
    new = llm.ChatMessage(role="user", content=["No, Tuesday."])
    assert join_continuation(ctx, new) == set()
    assert len(ctx.items) == 2 and new.text_content == "No, Tuesday."


def test_join_without_an_earlier_user_message_changes_nothing() -> None:
    ctx = _ctx(llm.ChatMessage(role="assistant", content=["Hello."]))
    new = llm.ChatMessage(role="user", content=["Hi."])
    assert join_continuation(ctx, new) == set()
    assert new.text_content == "Hi."


def test_going_on_is_known_from_the_speech_start_until_the_reply_ends() -> None:
    g = ContinuationGuard(quick_stop_s=0.5)
    assert not g.going_on
    g.on_commit(10.0)
    assert not g.going_on  # committed, nobody spoke yet
    g.on_user_speech_start(10.2)
    assert g.going_on  # before the reply was audible
    g.on_agent_audible(10.3)
    assert g.going_on
    g.on_reply_done()
    assert not g.going_on
    g.on_commit(20.0)
    g.on_agent_audible(20.3)
    g.on_user_speech_start(21.0)  # 0.7 s into the reply: an ordinary overlap
    assert not g.going_on
