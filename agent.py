"""The worker entrypoint.

    python agent.py console|dev|start|connect|download-files   # LiveKit's modes
    python agent.py simulate [SCENE ...] [--out DIR]            # offline duplex demo

Configuration comes from the environment or `.env` (see `.env.example` and README).
"""

from __future__ import annotations

import logging
import os
import sys

from livekit.agents import AgentServer, JobContext, cli

from worker.config import ConfigError, load_settings, missing_for_mode, missing_message
from worker.log import logger
from worker.prompts import load_prompt
from worker.reliability import install_apology
from worker.session import (
    VoiceAgent,
    build_session,
    caller_number,
    install_check_in,
    prewarm,
    room_options,
)

EXIT_CONFIG_ERROR = 2


async def entrypoint(ctx: JobContext) -> None:
    """One call/room: build the session, start it, greet."""
    settings = load_settings()
    session, tt = build_session(settings, ctx.proc.userdata)
    agent = VoiceAgent(settings)
    install_check_in(session)
    install_apology(session)
    logger.info("session starting with turn-taking: %s", tt.description)
    await session.start(agent=agent, room=ctx.room, room_options=room_options(settings))

    participant = await ctx.wait_for_participant()
    number = caller_number(participant)
    if number is not None:
        session.userdata.caller_number = number
        await agent.update_instructions(
            agent.base_instructions + "\n\n" + load_prompt("phone_caller", phone_number=number)
        )
        logger.debug("phone caller linked: %s", number)
    session.generate_reply(instructions="Greet the user in one short sentence.")


def build_server(agent_name: str, load_threshold: float) -> AgentServer:
    """The AgentServer with our prewarm and entrypoint registered."""
    server = AgentServer(load_threshold=load_threshold)
    server.setup_fnc = prewarm
    server.rtc_session(entrypoint, agent_name=agent_name)
    return server


def main(argv: list[str]) -> int:
    """Dispatch `simulate` to the offline demo, everything else to LiveKit's CLI."""
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "simulate":
        from sim.demo import main as simulate

        return simulate(argv[2:])

    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    missing = missing_for_mode(settings, mode)
    if missing:
        print(missing_message(missing, mode), file=sys.stderr)
        return EXIT_CONFIG_ERROR

    # LiveKit's CLI reads its connection settings from the process environment; `.env`
    # values are exported here so that file works for them too. Nothing is printed.
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        value = getattr(settings, name.lower())
        raw = value if isinstance(value, str) else value.get()
        if raw and not os.environ.get(name):
            os.environ[name] = raw
    logging.getLogger("turntaking").setLevel(settings.log_level.upper())
    cli.run_app(build_server(settings.agent_name, settings.load_threshold))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
