"""The plugin's logger. Decisions are logged at DEBUG; transcripts never above DEBUG."""

import logging

logger = logging.getLogger("livekit.plugins.turntaking")
