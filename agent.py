"""The worker entrypoint.

    python agent.py start                # production: register with LIVEKIT_URL, take jobs
    python agent.py dev                  # the same with readable logs, for development
    python agent.py connect --room NAME  # run one session in room NAME
    python agent.py console              # talk to the agent from this machine
    python agent.py download-files       # fetch what the LiveKit plugins in use need
    python agent.py simulate [SCENE ...] [--out DIR]   # offline duplex demo

The LiveKit CLI (`lk agent dev|start|console`) imports this file and runs its AgentServer
`server` instead. Configuration comes from the environment or the `.env` file next to this
file (see `.env.example` and README). Exit codes: 0 stopped on request, 1 the worker failed
(e.g. it gave up connecting to LIVEKIT_URL), 2 bad or missing settings.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any, Final

from livekit.agents import JobContext, Plugin, cli

from worker.config import (
    LOG_LEVELS,
    ConfigError,
    Settings,
    load_settings,
    missing_for_mode,
    missing_message,
)
from worker.log import logger
from worker.prompts import load_prompt
from worker.reliability import (
    EXIT_WORKER_FAILED,
    SupervisedServer,
    install_apology,
    worker_exit_code,
)
from worker.session import (
    VoiceAgent,
    build_session,
    caller_number,
    install_check_in,
    prewarm,
    room_options,
)

EXIT_CONFIG_ERROR: Final = 2
EXIT_DOWNLOAD_FAILED: Final = 1

MODES: Final = {
    "start": "production worker: registers with LIVEKIT_URL and takes jobs (JSON logs)",
    "dev": "the same worker for development: readable logs, job processes started on "
    "demand, no draining on exit (no reload on change)",
    "connect": "run one session in the room given by --room",
    "console": "talk to the agent through this machine's microphone and speaker "
    "(LiveKit 1.8.9's in-process console, which it marks deprecated; "
    "`lk agent console` replaces it)",
    "download-files": "fetch the files the LiveKit plugins in use need (build time)",
    "simulate": "offline demo: scripted scenes through a real session "
    "(`agent.py simulate --help` for its options)",
}


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


def build_server(settings: Settings) -> SupervisedServer:
    """The AgentServer with our prewarm and entrypoint registered. The LiveKit connection
    settings are passed from `settings`, so values from `.env` work as well as the
    environment's (the server exports them to its job processes)."""
    server = SupervisedServer(
        ws_url=settings.livekit_url or None,
        api_key=settings.livekit_api_key.get() or None,
        api_secret=settings.livekit_api_secret.get() or None,
        load_threshold=settings.load_threshold,
        max_retry=settings.max_connect_retries,
        log_level=settings.log_level.upper(),
    )
    server.setup_fnc = prewarm
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    return server


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per mode; none of them needs settings for --help."""
    parser = argparse.ArgumentParser(
        prog="agent.py",
        description="Voice agent worker with the turn-taking plugins (LiveKit Agents 1.8.9).",
        epilog="Settings come from the environment or the .env file next to agent.py "
        "(see .env.example); the environment wins. Exit codes: 0 stopped on request, "
        "1 the worker failed (e.g. it gave up connecting to LIVEKIT_URL), "
        "2 bad or missing settings.",
    )
    modes = parser.add_subparsers(dest="mode", metavar="MODE", required=True)
    log_help = "log level (default: the LOG_LEVEL setting)"
    for name in ("start", "dev"):
        p = modes.add_parser(name, help=MODES[name], description=MODES[name])
        p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, help=log_help)
    p = modes.add_parser("connect", help=MODES["connect"], description=MODES["connect"])
    p.add_argument("--room", required=True, help="name of the room to join (created if absent)")
    p.add_argument("--participant-identity", help="the agent's identity in the room")
    p.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, help=log_help)
    p = modes.add_parser("console", help=MODES["console"], description=MODES["console"])
    p.add_argument("--text", action="store_true", help="start in text mode")
    p.add_argument("--input-device", help="input device id or name substring")
    p.add_argument("--output-device", help="output device id or name substring")
    p.add_argument("--list-devices", action="store_true", help="list the audio devices")
    for name in ("download-files", "simulate"):
        modes.add_parser(name, help=MODES[name], description=MODES[name])
    return parser


def download_files() -> int:
    """Run `download_files()` of every LiveKit plugin the worker imports; 1 if one fails."""
    from livekit.plugins import deepgram, openai, silero, turntaking  # noqa: F401  (registers)

    for plugin in Plugin.registered_plugins:
        print(f"downloading files for {plugin.package}", flush=True)
        try:
            plugin.download_files()
        except Exception as e:  # report which plugin failed, whatever it raised
            print(f"error: downloading files for {plugin.package} failed: {e}", file=sys.stderr)
            return EXIT_DOWNLOAD_FAILED
    return 0


def run_connect(
    server: SupervisedServer, settings: Settings, *, room: str, identity: str | None, level: str
) -> int:
    """Run one session in `room` (created if absent) without registering for dispatch, as
    LiveKit's `connect` command does; returns the exit code. Unlike that command (which in
    1.8.9 waits forever when the room cannot be reached), a failure to reach LIVEKIT_URL
    stops the worker with exit code 1. SIGINT/SIGTERM stop it with 0."""
    from livekit import api
    from livekit.agents.cli.log import setup_logging
    from livekit.agents.utils import shortuuid

    setup_logging(level, devmode=True, console=False)
    agent_identity = identity or shortuuid("agent-")

    async def join() -> None:
        async with api.LiveKitAPI(
            settings.livekit_url,
            settings.livekit_api_key.get(),
            settings.livekit_api_secret.get(),
        ) as lk:
            found = await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
            info = (
                found.rooms[0]
                if found.rooms
                else await lk.room.create_room(api.CreateRoomRequest(name=room))
            )
        await server.simulate_job(
            room=room, fake_job=False, room_info=info, agent_identity=agent_identity
        )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
            task = loop.create_task(coro)
            tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(tasks.discard)
            return task

        def stop() -> None:
            spawn(server.aclose())

        def joined(task: asyncio.Task[None]) -> None:
            exc = None if task.cancelled() else task.exception()
            if isinstance(exc, Exception):
                server.note_failure(exc)
                stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        server.once("worker_started", lambda: spawn(join()).add_done_callback(joined))
        await server.run(devmode=True, unregistered=True)

    asyncio.run(run())
    return worker_exit_code(server.failure)


def run_console(server: SupervisedServer, args: argparse.Namespace) -> int:
    """LiveKit's in-process console (its rich CLI's `console` command, which reads
    `sys.argv` and ends in SystemExit); returns the exit code."""
    sys.argv = [sys.argv[0], "console"]
    sys.argv += ["--text"] if args.text else []
    sys.argv += ["--list-devices"] if args.list_devices else []
    sys.argv += ["--input-device", args.input_device] if args.input_device else []
    sys.argv += ["--output-device", args.output_device] if args.output_device else []
    try:
        cli.run_app(server)
    except SystemExit as e:
        if isinstance(e.code, int) and e.code != 0:
            return e.code
    except OSError as e:
        if "PortAudio" not in str(e):
            raise
        # the console's audio library (sounddevice) needs the system's PortAudio, text mode too
        print(
            "error: `console` needs the PortAudio library "
            "(Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)",
            file=sys.stderr,
        )
        return EXIT_WORKER_FAILED
    return worker_exit_code(server.failure)


def main(argv: list[str]) -> int:
    """Parse `argv` (argv[0] is the program), check the settings the mode needs, run it;
    returns the exit code."""
    if len(argv) > 1 and argv[1] == "simulate":
        from sim.demo import main as simulate  # the demo parses its own options

        return simulate(argv[2:])
    args = build_parser().parse_args(argv[1:])
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    missing = missing_for_mode(settings, args.mode)
    if missing:
        print(missing_message(missing, args.mode), file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if args.mode == "download-files":
        return download_files()

    server = build_server(settings)
    level = (getattr(args, "log_level", None) or settings.log_level).upper()
    if args.mode in ("start", "dev"):
        # What `python -m livekit.agents start [--dev]` (LiveKit's current interface, also
        # behind `lk agent dev|start`) runs: signals, draining and shutdown as LiveKit does
        # them. Its rich CLI's `dev` command is deprecated and only adds that notice.
        from livekit.agents.cli import proto
        from livekit.agents.cli.cli import _run_worker

        _run_worker(server, proto.CliArgs(log_level=level, dev=args.mode == "dev"))
        return worker_exit_code(server.failure)
    if args.mode == "connect":
        return run_connect(
            server, settings, room=args.room, identity=args.participant_identity, level=level
        )
    return run_console(server, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
else:
    # Imported by the LiveKit CLI (`lk agent dev|start|console`, through `python -m
    # livekit.agents`), which runs the AgentServer it finds here. An invalid setting makes
    # the import fail with the ConfigError naming it.
    server = build_server(load_settings())
