"""Each decision of the plugin is an OpenTelemetry span under LiveKit's tracer, carrying
numbers and labels only (never the user's words)."""

from __future__ import annotations

import pytest
from livekit.agents import inference, telemetry
from livekit.plugins.turntaking import TurnTakingModels, load_models
from livekit.plugins.turntaking.turn_taking import ENDPOINT_SPAN, OVERLAP_SPAN
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sim.fake_stt import ScriptedSTT
from sim.lines import AGENT_LINES
from sim.scenes import SCENES, run_scene, scene_transcripts
from sim.tts import ClipLibrary, ClipTTS
from sim.virtual_time import InlineExecutor, run_virtual


@pytest.fixture(scope="module")
def models() -> TurnTakingModels:
    return load_models(load_vad=False)


def _spans_of_scene(name: str, models: TurnTakingModels) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    before = telemetry.tracer._tracer_provider  # restored so other tests see no exporter
    telemetry.tracer.set_provider(provider)
    scene = SCENES[name]

    async def run() -> None:
        await run_scene(
            scene,
            stack="ours",
            stt=ScriptedSTT(scene_transcripts(scene)),
            vad=inference.VAD(executor=InlineExecutor()),
            tts=ClipTTS(library=ClipLibrary.from_lines(AGENT_LINES)),
            models=models,
        )

    try:
        run_virtual(run())
    finally:
        telemetry.tracer.set_provider(before)
    return list(exporter.get_finished_spans())


def test_a_backchannel_and_the_pauses_are_spans(models: TurnTakingModels) -> None:
    spans = _spans_of_scene("backchannel", models)
    overlaps = [s for s in spans if s.name == OVERLAP_SPAN]
    assert len(overlaps) == 1
    attrs = dict(overlaps[0].attributes or {})
    assert attrs["turntaking.label"] == "backchannel"
    assert 0.0 <= float(attrs["turntaking.probability"]) <= 1.0
    assert float(attrs["turntaking.latency_s"]) > 0.0
    assert "turntaking.stop_latency_s" not in attrs  # the agent never stopped
    decisions = [s for s in spans if s.name == ENDPOINT_SPAN]
    assert decisions
    assert all(float((s.attributes or {})["turntaking.delay_s"]) > 0.0 for s in decisions)
    # numbers and labels only: no attribute carries the user's words
    words = " ".join(scene_transcripts(SCENES["backchannel"])).lower()
    for s in overlaps + decisions:
        for value in (s.attributes or {}).values():
            assert not (isinstance(value, str) and value and value.lower() in words)


def test_an_interruption_span_has_its_stop_latency(models: TurnTakingModels) -> None:
    overlaps = [s for s in _spans_of_scene("interruption", models) if s.name == OVERLAP_SPAN]
    attrs = dict(overlaps[0].attributes or {})
    assert attrs["turntaking.label"] == "interruption"
    assert 0.0 < float(attrs["turntaking.stop_latency_s"]) < 1.0
