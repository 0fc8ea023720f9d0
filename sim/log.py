"""Logger of the simulation harness."""

import logging

logger = logging.getLogger("turntaking.sim")
