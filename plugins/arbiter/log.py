"""Logger of the interruption arbiter plugin."""

import logging

logger = logging.getLogger("turntaking.arbiter")
