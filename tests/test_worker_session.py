"""Session assembly helpers: phone callers, room audio options, the check-in on silence."""

from __future__ import annotations

from typing import Any

from livekit import rtc

from worker.config import Settings
from worker.session import SIP_PHONE_NUMBER_ATTR, caller_number, install_check_in, room_options


class _Participant:
    def __init__(self, kind: int, attributes: dict[str, str]) -> None:
        self.kind = kind
        self.attributes = attributes


def test_sip_caller_number_is_read_from_the_participant_attributes() -> None:
    sip = _Participant(rtc.ParticipantKind.PARTICIPANT_KIND_SIP, {SIP_PHONE_NUMBER_ATTR: "+1415"})
    web = _Participant(rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD, {SIP_PHONE_NUMBER_ATTR: "x"})
    anonymous = _Participant(rtc.ParticipantKind.PARTICIPANT_KIND_SIP, {})
    assert caller_number(sip) == "+1415"  # type: ignore[arg-type]
    assert caller_number(web) is None  # type: ignore[arg-type]
    assert caller_number(anonymous) is None  # type: ignore[arg-type]


def test_room_audio_is_resampled_to_the_configured_rate() -> None:
    options = room_options(Settings(input_sample_rate_hz=8_000)).get_audio_input_options()
    assert options is not None and options.sample_rate == 8_000


def test_room_audio_comes_in_the_frames_the_arbiter_was_measured_on() -> None:
    # the demo and the session benchmark feed 20 ms frames; LiveKit's default is 50 ms
    from sim.audio_io import DEFAULT_FRAME_S

    options = room_options(Settings()).get_audio_input_options()
    assert options is not None and options.frame_size_ms == round(DEFAULT_FRAME_S * 1000)
    options = room_options(Settings(input_frame_ms=10)).get_audio_input_options()
    assert options is not None and options.frame_size_ms == 10


class _Session:
    def __init__(self, agent_state: str) -> None:
        self.agent_state = agent_state
        self.handlers: dict[str, Any] = {}
        self.replies: list[str] = []

    def on(self, name: str, handler: Any) -> None:
        self.handlers[name] = handler

    def generate_reply(self, *, instructions: str) -> None:
        self.replies.append(instructions)


class _StateEvent:
    def __init__(self, new_state: str) -> None:
        self.new_state = new_state


def test_agent_checks_in_once_when_the_user_goes_away() -> None:
    session = _Session("listening")
    install_check_in(session)  # type: ignore[arg-type]
    session.handlers["user_state_changed"](_StateEvent("speaking"))
    assert session.replies == []
    session.handlers["user_state_changed"](_StateEvent("away"))
    assert len(session.replies) == 1 and "still there" in session.replies[0]
    session.agent_state = "speaking"
    session.handlers["user_state_changed"](_StateEvent("away"))
    assert len(session.replies) == 1


def test_settings_select_the_turn_taking_plugins() -> None:
    from livekit.plugins.turntaking import TurnTakingModels

    from worker.session import turn_taking

    cases = {
        ("arbiter", "adaptive"): (True, True),
        ("arbiter", "livekit"): (True, False),
        ("vad", "adaptive"): (False, True),
        ("vad", "livekit"): (False, False),
    }
    for (interruption, endpointing), (arbiter, adaptive) in cases.items():
        settings = Settings(interruption_mode=interruption, endpointing_mode=endpointing)  # type: ignore[arg-type]
        tt = turn_taking(settings, TurnTakingModels())
        assert (tt.arbiter is not None) == arbiter
        assert (tt.endpointing is not None) == adaptive
    framework = turn_taking(
        Settings(interruption_mode="vad", endpointing_mode="livekit"), TurnTakingModels()
    )
    handling: dict[str, Any] = dict(framework.turn_handling())
    assert handling["turn_detection"] == "vad"
    assert handling["interruption"]["min_duration"] == 0.5
    # the duck and the output's lead: the plugin's defaults, a chosen value, or off (0)
    default = turn_taking(Settings(), TurnTakingModels()).arbiter
    assert default is not None and (default.duck_db, default.output_lead_s) == (14.0, 0.1)
    chosen = turn_taking(Settings(arbiter_duck_db=20.0, output_lead_ms=80), TurnTakingModels())
    assert chosen.arbiter is not None
    assert (chosen.arbiter.duck_db, chosen.arbiter.output_lead_s) == (20.0, 0.08)
    off = turn_taking(Settings(arbiter_duck_db=0.0, output_lead_ms=0), TurnTakingModels())
    assert off.arbiter is not None
    assert (off.arbiter.duck_db, off.arbiter.output_lead_s) == (None, None)


def test_prewarm_loads_every_model_once_into_the_process() -> None:
    from worker.session import prewarm

    class _Proc:
        userdata: dict[str, Any] = {}

    proc = _Proc()
    prewarm(proc)  # type: ignore[arg-type]
    models = proc.userdata["turn_taking"]
    assert proc.userdata["vad"] is not None
    assert models.problems == ()
    assert models.arbiter_model is not None and models.completeness is not None
