"""The scripted LLM: the harness's only fake, standing in for a hosted model.

It answers from a script keyed on the last user message and records every call (the chat
context it got), so tests and the benchmark can check whether a reply was generated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from sim.assets_index import normalize_text

DEFAULT_TTFT_S = 0.3
"""Time to first token of the stand-in model, seconds (a hosted model's typical figure)."""
CHUNK_CHARS = 8
"""Characters per streamed chunk."""


@dataclass(frozen=True)
class ScriptRule:
    """Reply `reply` when the last user message contains `match` (normalized words; several
    alternatives may be separated by "|")."""

    match: str
    reply: str


@dataclass(frozen=True)
class LLMCall:
    """One chat request the scripted LLM received."""

    at_s: float
    """Clock time of the request, seconds."""
    last_user_text: str | None
    """Text of the last user message in the context (None if there is none)."""
    items: tuple[tuple[str, str], ...]
    """(role, text) of every message in the context, in order."""
    reply: str


class ScriptedLLM(llm.LLM[Any]):
    """Replies from `rules` (first match wins) else `default_reply`, after `ttft_s` seconds.

    Every request is appended to `calls`.
    """

    def __init__(
        self,
        *,
        rules: Sequence[ScriptRule] = (),
        default_reply: str = "Okay.",
        ttft_s: float = DEFAULT_TTFT_S,
        now: Callable[[], float] | None = None,
    ) -> None:
        """`ttft_s` (0..10) delay before the first chunk; `now` the clock for `LLMCall.at_s`
        (default: the running loop's time)."""
        super().__init__()
        if not 0.0 <= ttft_s <= 10.0:
            raise ValueError(f"ttft_s must be in 0..10, got {ttft_s}")
        self.rules = tuple(rules)
        self.default_reply = default_reply
        self.ttft_s = ttft_s
        self.now = now
        self.calls: list[LLMCall] = []
        self.on_call: Callable[[LLMCall], None] | None = None
        """Called with each request as it arrives."""

    @property
    def model(self) -> str:
        return "scripted"

    def reply_for(self, user_text: str | None) -> str:
        """The scripted reply to a user message."""
        norm = normalize_text(user_text or "")
        padded = f" {norm} "
        for rule in self.rules:
            for alt in rule.match.split("|"):
                if f" {normalize_text(alt)} " in padded:
                    return rule.reply
        return self.default_reply

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        items: list[tuple[str, str]] = []
        last_user: str | None = None
        for item in chat_ctx.items:
            if isinstance(item, llm.ChatMessage):
                text = item.text_content or ""
                items.append((item.role, text))
                if item.role == "user":
                    last_user = text
        reply = self.reply_for(last_user)
        now = self.now() if self.now else asyncio.get_running_loop().time()
        call = LLMCall(now, last_user, tuple(items), reply)
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return _ScriptedStream(
            self, reply, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )


class _ScriptedStream(llm.LLMStream):
    def __init__(
        self,
        owner: ScriptedLLM,
        reply: str,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(owner, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._reply = reply
        self._ttft_s = owner.ttft_s

    async def _run(self) -> None:
        await asyncio.sleep(self._ttft_s)
        for i in range(0, len(self._reply), CHUNK_CHARS):
            self._event_ch.send_nowait(
                llm.ChatChunk(
                    id=str(id(self)),
                    delta=llm.ChoiceDelta(
                        role="assistant", content=self._reply[i : i + CHUNK_CHARS]
                    ),
                )
            )
