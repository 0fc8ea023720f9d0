"""Logger of the local speech-to-text plugin."""

import logging

logger = logging.getLogger("turntaking.local_stt")
