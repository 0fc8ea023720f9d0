"""Parse and write the benchmark manifests (JSON Lines, paths relative to the manifest).

Formats are fixed by the benchmark contract: overlap lines carry `id`, `audio`, `label`,
`onset_s` and optionally `agent_text`, `text`, `source`, `speaker`, `snr_db`; endpoint
lines carry `id`, `audio`, `speech_end_s`, `pauses` and optionally `text`, `speaker`,
`pause_texts`.
Unknown extra fields are ignored (the contract may grow optional fields). One line is one
`OverlapItem` or `EndpointItem`, with absolute audio paths.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = [
    "EndpointItem",
    "ManifestError",
    "OverlapItem",
    "OverlapLabel",
    "load_endpoint_manifest",
    "load_overlap_manifest",
    "overlap_item_to_json",
    "spread_subset",
    "endpoint_item_to_json",
    "write_endpoint_manifest",
    "write_overlap_manifest",
]

OverlapLabel = Literal["backchannel", "interruption"]


@dataclass(frozen=True)
class OverlapItem:
    """One line of an overlap manifest."""

    id: str
    audio: Path
    """Absolute path of the user's audio (WAV or FLAC, mono or stereo, 8-48 kHz)."""
    label: OverlapLabel
    onset_s: float
    """Where the user's speech starts in `audio`, seconds."""
    agent_text: str | None = None
    """What the agent said up to the onset."""
    text: str | None = None
    """Reference transcript: for reports only, never read by a system under test."""
    source: str | None = None
    """Optional: corpus the item comes from (e.g. "mrda", "swda")."""
    speaker: str | None = None
    """Optional: speaker key (corpus-unique), for per-speaker analyses."""
    snr_db: float | None = None
    """Optional: signal-to-noise ratio of added background noise (dB), for per-SNR
    analyses of the noise conditions."""


@dataclass(frozen=True)
class EndpointItem:
    """One line of an endpoint manifest."""

    id: str
    audio: Path
    speech_end_s: float
    """End of the turn's last word, seconds from the start of `audio`."""
    pauses: tuple[tuple[float, float], ...]
    """Mid-turn silences (start_s, end_s) after which the same speaker went on."""
    text: str | None = None
    """Reference transcript: for reports only, never read by a system under test."""
    speaker: str | None = None
    """Optional: corpus-unique speaker key; policies may adapt per speaker in manifest order."""
    pause_texts: tuple[str, ...] | None = None
    """Optional reference text up to each pause (reports and training only)."""


_LABELS: tuple[OverlapLabel, ...] = ("backchannel", "interruption")

T = TypeVar("T")


def spread_subset(items: Sequence[T], limit: int | None) -> list[T]:
    """`limit` items spread evenly over the manifest (every len/limit-th, keeping order),
    so a subset keeps the manifest's mix of classes and sources; all items when `limit`
    is None or not smaller than the manifest."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return [items[i * len(items) // limit] for i in range(limit)]


class ManifestError(ValueError):
    """A manifest is unusable; the message names the file and, for a bad line, its number."""


def refuse_test_manifests(paths: Iterable[Path], why: str) -> bool:
    """For the tools that train, choose or check on val: True (after saying so on stderr,
    with `why`) when any of `paths` is a test split's manifest, which they must not read."""
    for m in paths:
        if "test" in m.name:
            print(f"refusing {m}: {why}", file=sys.stderr)
            return True
    return False


def _lines(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: manifest not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc})") from exc
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{n}: malformed JSON ({exc.msg})") from exc
        if not isinstance(obj, dict):
            raise ManifestError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def _where(path: Path, n: int) -> str:
    return f"{path}:{n}"


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise ManifestError(f"{where}: missing required field '{key}'")
        return None
    v = obj[key]
    if not isinstance(v, str) or (required and not v):
        raise ManifestError(f"{where}: field '{key}' must be a non-empty string, got {v!r}")
    return v


def _num(obj: dict[str, Any], key: str, where: str) -> float:
    if key not in obj:
        raise ManifestError(f"{where}: missing required field '{key}'")
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise ManifestError(f"{where}: field '{key}' must be a number >= 0 (seconds), got {v!r}")
    return float(v)


def _opt_db(obj: dict[str, Any], key: str, where: str) -> float | None:
    if obj.get(key) is None:
        return None
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ManifestError(f"{where}: field '{key}' must be a finite number (dB), got {v!r}")
    return float(v)


def _audio(obj: dict[str, Any], manifest: Path, where: str, *, require: bool = True) -> Path:
    rel = _str(obj, "audio", where, required=require)
    if rel is None:
        return Path()
    p = Path(rel)
    audio = p if p.is_absolute() else (manifest.parent / p)
    audio = Path(os.path.normpath(audio.absolute()))
    if require and not audio.is_file():
        raise ManifestError(f"{where}: audio file not found: {audio}")
    return audio


def _check_id(item_id: str, seen: set[str], where: str) -> None:
    if item_id in seen:
        raise ManifestError(f"{where}: duplicate id '{item_id}'")
    seen.add(item_id)


def load_overlap_manifest(path: Path | str) -> list[OverlapItem]:
    """Parse an overlap manifest; audio paths come back absolute.

    Raises `ManifestError` naming the file and line for a malformed line, a missing or
    mistyped field, an unknown label, a duplicate id, or an audio file that does not exist.
    """
    mpath = Path(path)
    items: list[OverlapItem] = []
    seen: set[str] = set()
    for n, obj in _lines(mpath):
        where = _where(mpath, n)
        item_id = _str(obj, "id", where, required=True)
        assert item_id is not None
        _check_id(item_id, seen, where)
        label = obj.get("label")
        if label not in _LABELS:
            raise ManifestError(
                f"{where}: field 'label' must be one of {', '.join(_LABELS)}, got {label!r}"
            )
        items.append(
            OverlapItem(
                id=item_id,
                audio=_audio(obj, mpath, where),
                label=label,
                onset_s=_num(obj, "onset_s", where),
                agent_text=_str(obj, "agent_text", where, required=False),
                text=_str(obj, "text", where, required=False),
                source=_str(obj, "source", where, required=False),
                speaker=_str(obj, "speaker", where, required=False),
                snr_db=_opt_db(obj, "snr_db", where),
            )
        )
    return items


def _pauses(
    obj: dict[str, Any], where: str, speech_end_s: float
) -> tuple[tuple[float, float], ...]:
    raw = obj.get("pauses")
    if raw is None:
        raise ManifestError(f"{where}: missing required field 'pauses' (use [] for none)")
    if not isinstance(raw, list):
        raise ManifestError(f"{where}: field 'pauses' must be a list of [start_s, end_s]")
    out: list[tuple[float, float]] = []
    prev_end = 0.0
    for k, pair in enumerate(raw):
        ok = (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
        )
        if not ok:
            raise ManifestError(f"{where}: pauses[{k}] must be [start_s, end_s], got {pair!r}")
        a, b = float(pair[0]), float(pair[1])
        if not (math.isfinite(a) and math.isfinite(b)) or not prev_end <= a < b <= speech_end_s:
            raise ManifestError(
                f"{where}: pauses[{k}] = {pair!r} must satisfy previous end <= start < end "
                f"<= speech_end_s ({speech_end_s})"
            )
        prev_end = b
        out.append((a, b))
    return tuple(out)


def load_endpoint_manifest(path: Path | str, *, require_audio: bool = True) -> list[EndpointItem]:
    """Parse an endpoint manifest; audio paths come back absolute.

    With `require_audio=False` (text/timing-only training manifests) the `audio` field may
    be absent (the item's `audio` is then `Path()`) or name a file not rendered yet.

    Raises `ManifestError` naming the file and line for a malformed line, missing or
    mistyped fields, pauses out of order or past `speech_end_s`, `pause_texts` whose length
    differs from `pauses`, a duplicate id, or an audio file that does not exist.
    """
    mpath = Path(path)
    items: list[EndpointItem] = []
    seen: set[str] = set()
    for n, obj in _lines(mpath):
        where = _where(mpath, n)
        item_id = _str(obj, "id", where, required=True)
        assert item_id is not None
        _check_id(item_id, seen, where)
        end_s = _num(obj, "speech_end_s", where)
        pauses = _pauses(obj, where, end_s)
        pause_texts: tuple[str, ...] | None = None
        raw_pt = obj.get("pause_texts")
        if raw_pt is not None:
            if not isinstance(raw_pt, list) or not all(isinstance(t, str) for t in raw_pt):
                raise ManifestError(f"{where}: field 'pause_texts' must be a list of strings")
            if len(raw_pt) != len(pauses):
                raise ManifestError(
                    f"{where}: 'pause_texts' has {len(raw_pt)} entries for {len(pauses)} pauses"
                )
            pause_texts = tuple(raw_pt)
        items.append(
            EndpointItem(
                id=item_id,
                audio=_audio(obj, mpath, where, require=require_audio),
                speech_end_s=end_s,
                pauses=pauses,
                text=_str(obj, "text", where, required=False),
                speaker=_str(obj, "speaker", where, required=False),
                pause_texts=pause_texts,
            )
        )
    return items


def _rel(audio: Path, manifest: Path) -> str:
    try:
        return os.path.relpath(audio, manifest.parent.absolute())
    except ValueError:  # different drives (Windows): keep absolute
        return str(audio)


def _round(x: float) -> float:
    return round(float(x), 3)


def overlap_item_to_json(item: OverlapItem, manifest: Path) -> dict[str, Any]:
    """The JSON object of one overlap line (audio relative to `manifest`'s folder)."""
    obj: dict[str, Any] = {
        "id": item.id,
        "audio": _rel(item.audio, manifest),
        "label": item.label,
        "onset_s": _round(item.onset_s),
    }
    for key in ("agent_text", "text", "source", "speaker"):
        v = getattr(item, key)
        if v is not None:
            obj[key] = v
    if item.snr_db is not None:
        obj["snr_db"] = round(float(item.snr_db), 2)
    return obj


def endpoint_item_to_json(item: EndpointItem, manifest: Path) -> dict[str, Any]:
    """The JSON object of one endpoint line (audio relative to `manifest`'s folder;
    omitted when `item.audio` is `Path()`, for text/timing-only training manifests)."""
    obj: dict[str, Any] = {"id": item.id}
    if item.audio != Path():
        obj["audio"] = _rel(item.audio, manifest)
    obj["speech_end_s"] = _round(item.speech_end_s)
    obj["pauses"] = [[_round(a), _round(b)] for a, b in item.pauses]
    if item.text is not None:
        obj["text"] = item.text
    if item.speaker is not None:
        obj["speaker"] = item.speaker
    if item.pause_texts is not None:
        obj["pause_texts"] = list(item.pause_texts)
    return obj


def _write(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    # atomic so a reader never sees half a manifest
    tmp.replace(path)


def write_overlap_manifest(path: Path | str, items: Iterable[OverlapItem]) -> None:
    """Write `items` as an overlap manifest at `path` (audio paths made relative)."""
    p = Path(path).absolute()
    _write(p, (overlap_item_to_json(it, p) for it in items))


def write_endpoint_manifest(
    path: Path | str, items: Iterable[EndpointItem], *, source: str | None = None
) -> None:
    """Write `items` as an endpoint manifest at `path` (audio paths made relative); with
    `source`, every line also carries it (an optional field of the contract)."""
    p = Path(path).absolute()

    def row(it: EndpointItem) -> dict[str, Any]:
        obj = endpoint_item_to_json(it, p)
        if source is not None:
            obj["source"] = source
        return obj

    _write(p, (row(it) for it in items))
