"""Where the committed speech clips live and how they are named."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "assets"


def normalize_text(text: str) -> str:
    """Lowercase words only, single-spaced (the key used to match TTS text to clips)."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def clip_file_name(text: str) -> str:
    """File name of an agent line's clip: a readable slug plus a short hash."""
    norm = normalize_text(text)
    slug = "_".join(norm.split()[:6])
    digest = hashlib.sha1(norm.encode()).hexdigest()[:8]
    return f"{slug}_{digest}.flac"
