"""Offline in-process harness: drives a real AgentSession with scripted audio I/O."""

__all__: list[str] = []
