"""Session stacks of the benchmark: the harness's named stacks (`sim.stacks`) and the
benchmark-only baseline `livekit-min-words-2`, the framework's VAD barge-in that also waits
for two transcribed words. Only the benchmark compares against that setting, so it is built
here and handed to the harness as a ready `StackSetup`."""

from __future__ import annotations

from sim.stacks import StackSetup, framework_stack

MIN_WORDS_2 = "livekit-min-words-2"
BENCH_STACKS = (MIN_WORDS_2,)
"""Stacks only the benchmark runs (the harness itself runs `sim.stacks.STACK_NAMES`)."""
STACK_NAMES = ("framework", "livekit-vad", MIN_WORDS_2, "ours-endpointing", "ours-arbiter", "ours")
"""Every stack a benchmark session can run: `sim.stacks.STACK_NAMES` and `BENCH_STACKS`."""


def session_stack(name: str) -> str | StackSetup:
    """What `SimHarness.start(stack=...)` takes for stack `name`: a fresh setup of a
    benchmark-only stack, else the name itself (the harness configures it)."""
    if name == MIN_WORDS_2:
        return framework_stack(name, min_words=2)
    return name
