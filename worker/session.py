"""Assembling the production `AgentSession`: Deepgram STT, OpenAI LLM and TTS, Silero VAD,
plus our turn-taking plugins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobProcess
from livekit.agents.voice.room_io import AudioInputOptions, RoomOptions
from livekit.plugins.turntaking import TurnTaking, TurnTakingModels, load_models

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
    """Load every model once per worker process (`AgentServer.setup_fnc`): Silero VAD and
    the turn-taking plugins' weights. A missing or broken plugin file is logged as an
    error naming the file, and that plugin falls back to the framework's behaviour."""
    from livekit.plugins import silero

    proc.userdata["vad"] = silero.VAD.load()
    proc.userdata["turn_taking"] = load_models()
    logger.info("prewarm: models loaded")


def turn_taking(settings: Settings, models: TurnTakingModels) -> TurnTaking:
    """The turn-taking plugin for one session, as the settings select it
    (`INTERRUPTION_MODE`, `ENDPOINTING_MODE`, `ENDPOINTING_PATIENCE`, `ARBITER_DUCK_DB`,
    `OUTPUT_LEAD_MS`; 0 turns the last two off)."""
    return TurnTaking(
        models,
        arbiter=settings.interruption_mode == "arbiter",
        adaptive_endpointing=settings.endpointing_mode == "adaptive",
        patience=settings.endpointing_patience,
        duck_db=settings.arbiter_duck_db or None,
        output_lead_s=settings.output_lead_ms / 1000 if settings.output_lead_ms else None,
    )


def room_options(settings: Settings) -> RoomOptions:
    """Room I/O options: audio in at one rate for every client (SIP 8 kHz is upsampled), in
    frames of `input_frame_ms` (the arbiter decides at frame ends)."""
    return RoomOptions(
        audio_input=AudioInputOptions(
            sample_rate=settings.input_sample_rate_hz, frame_size_ms=settings.input_frame_ms
        )
    )


def caller_number(participant: rtc.RemoteParticipant) -> str | None:
    """The phone number of a LiveKit SIP participant, None for any other participant."""
    if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP:
        return None
    return participant.attributes.get(SIP_PHONE_NUMBER_ATTR) or None


def build_session(
    settings: Settings, userdata: dict[str, Any]
) -> tuple[AgentSession[CallInfo], TurnTaking]:
    """The production session with the turn-taking plugin attached (start it with any
    agent: handed-off agents are covered too). Network providers are constructed here
    only, with keys from `settings`; nothing here logs a secret."""
    from livekit.plugins import deepgram, openai

    tt = turn_taking(settings, userdata["turn_taking"])
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
        vad=tt.vad(userdata["vad"]),
        turn_handling=tt.turn_handling(),
        user_away_timeout=settings.user_away_timeout_s,
        userdata=CallInfo(),
    )
    tt.attach(session)
    return session, tt


def install_check_in(session: AgentSession[Any]) -> None:
    """When the user goes quiet for `user_away_timeout_s`, the agent checks in once."""

    def on_user_state(ev: Any) -> None:
        if ev.new_state == "away" and session.agent_state == "listening":
            session.generate_reply(instructions=load_prompt("user_away"))

    session.on("user_state_changed", on_user_state)
