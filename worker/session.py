"""Assembling the production `AgentSession`: Deepgram STT, OpenAI LLM and TTS, Silero VAD,
plus our turn-taking plugins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobProcess
from livekit.agents.voice.room_io import AudioInputOptions, RoomOptions

from .config import Settings
from .log import logger
from .prompts import load_prompt

SIP_PHONE_NUMBER_ATTR = "sip.phoneNumber"


@dataclass
class CallInfo:
    """What the agent knows about the remote party (held in `AgentSession.userdata`)."""

    caller_number: str | None = None
    """E.164 number of a phone caller (LiveKit SIP participant attribute), else None."""


class VoiceAgent(Agent):
    """The voice persona from prompts/, loaded by name."""

    def __init__(self, settings: Settings) -> None:
        self.base_instructions = load_prompt(settings.prompt_name)
        super().__init__(instructions=self.base_instructions)


def prewarm(proc: JobProcess) -> None:
    """Load every model once per worker process (`AgentServer.setup_fnc`)."""
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()
    logger.info("prewarm: models loaded")


def room_options(settings: Settings) -> RoomOptions:
    """Room I/O options: audio in at one rate for every client (SIP 8 kHz is upsampled)."""
    return RoomOptions(audio_input=AudioInputOptions(sample_rate=settings.input_sample_rate_hz))


def caller_number(participant: rtc.RemoteParticipant) -> str | None:
    """The phone number of a LiveKit SIP participant, None for any other participant."""
    if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return None
    return participant.attributes.get(SIP_PHONE_NUMBER_ATTR) or None


def build_session(settings: Settings, userdata: dict[str, Any]) -> AgentSession[CallInfo]:
    """The production session. Network providers are constructed here only, with keys from
    `settings`; nothing here logs a secret."""
    from livekit.plugins import deepgram, openai

    session: AgentSession[CallInfo] = AgentSession(
        stt=deepgram.STT(
            model=settings.deepgram_model,
            language=settings.language,
            interim_results=True,
            api_key=settings.deepgram_api_key.get(),
        ),
        llm=openai.LLM(model=settings.openai_llm_model, api_key=settings.openai_api_key.get()),
        tts=openai.TTS(
            model=settings.openai_tts_model,
            voice=settings.openai_tts_voice,
            api_key=settings.openai_api_key.get(),
        ),
        vad=userdata["vad"],
        user_away_timeout=settings.user_away_timeout_s,
        userdata=CallInfo(),
    )
    return session


def install_check_in(session: AgentSession[Any]) -> None:
    """When the user goes quiet for `user_away_timeout_s`, the agent checks in once."""

    def on_user_state(ev: Any) -> None:
        if ev.new_state == "away" and session.agent_state == "listening":
            session.generate_reply(instructions=load_prompt("user_away"))

    session.on("user_state_changed", on_user_state)
