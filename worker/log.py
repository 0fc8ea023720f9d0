import logging

logger = logging.getLogger("turntaking.worker")
