"""Logger of the adaptive endpointing plugin."""

import logging

logger = logging.getLogger("turntaking.endpointing")
