"""The offline demo: scripted scenes through a real AgentSession, in real time.

    python agent.py simulate [SCENE ...] [--stack NAME ...] [--out DIR]

Everything runs locally: user speech from committed clips, Silero VAD, Whisper streaming
STT (LocalSTT), a scripted LLM, agent speech from committed clips. Prints each scene's
timeline per stack and writes `<out>/<scene>.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from livekit.plugins.turntaking import TurnTakingModels, load_models

from sim.scenes import SCENES, SceneResult, run_scene
from sim.stacks import STACK_NAMES, configure_stack
from sim.timeline import format_result, plot_scene

DEFAULT_OUT = Path("out/demo")
DEFAULT_STACKS = ("framework", "ours")


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="agent.py simulate", description="Offline turn-taking demo (real time)."
    )
    p.add_argument(
        "scenes", nargs="*", metavar="SCENE", help=f"scenes to run (default: {', '.join(SCENES)})"
    )
    p.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        metavar="NAME",
        help=f"stack to run (repeatable; one of {', '.join(STACK_NAMES)}; "
        f"default: {' and '.join(DEFAULT_STACKS)})",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs")
    return p.parse_args(argv)


async def _run(
    scenes: list[str], stacks: list[str], out: Path, models: TurnTakingModels
) -> list[list[SceneResult]]:
    from livekit.plugins import silero
    from livekit.plugins.local_whisper import LocalSTT

    from sim.lines import AGENT_LINES
    from sim.tts import ClipLibrary, ClipTTS

    stt = LocalSTT()
    stt.prewarm()
    vad = silero.VAD.load()
    tts = ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES))
    all_results: list[list[SceneResult]] = []
    notes = {stack: configure_stack(stack, models).description for stack in stacks}
    for stack in stacks:
        print(f"stack {stack}: {notes[stack]}")
    print()
    for name in scenes:
        results: list[SceneResult] = []
        for stack in stacks:
            result = await run_scene(
                SCENES[name], stack=stack, stt=stt, vad=vad, tts=tts, models=models
            )
            print(format_result(result), flush=True)
            results.append(result)
        png = plot_scene(results, out / f"{name}.png", stack_notes=notes)
        print(f"  timeline image: {png}\n", flush=True)
        all_results.append(results)
    print(_summary(all_results))
    return all_results


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _summary(all_results: list[list[SceneResult]]) -> str:
    head = f"{'scene':<14}{'stack':<18}{'stop ms':>9}{'reply ms':>10}{'turns':>7}{'LLM':>5}"
    rows = [head, "-" * len(head)]
    for results in all_results:
        for r in results:
            turns = sum(1 for m in r.history if m["role"] == "user")
            rows.append(
                f"{r.scene.name:<14}{r.stack:<18}{_ms(r.stop_latency_s):>9}"
                f"{_ms(r.reply_latency_s):>10}{turns:>7}{r.llm_calls:>5}"
            )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    """Run the demo; returns the process exit code."""
    args = _parse(argv)
    unknown = [s for s in args.scenes if s not in SCENES]
    if unknown:
        print(
            f"error: unknown scene(s) {', '.join(unknown)}; choose from {', '.join(SCENES)}",
            file=sys.stderr,
        )
        return 2
    scenes = args.scenes or list(SCENES)
    stacks = args.stacks or list(DEFAULT_STACKS)
    bad = [s for s in stacks if s not in STACK_NAMES]
    if bad:
        print(
            f"error: unknown stack(s) {', '.join(bad)}; choose from {', '.join(STACK_NAMES)}",
            file=sys.stderr,
        )
        return 2
    started = time.perf_counter()
    models = load_models()
    for problem in models.problems:
        print(f"note: {problem} (that plugin falls back to the framework's behaviour)")
    asyncio.run(_run(scenes, stacks, args.out, models))
    print(f"demo finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
