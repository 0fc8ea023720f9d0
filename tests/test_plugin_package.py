"""The plugin distributions as pip builds them: what their wheels hold and require.

Each plugin folder is copied (without build leftovers) and built with
`pip wheel --no-deps --no-build-isolation`, as a user's `pip install <folder>` builds it, a
few seconds each. The wheel must hold its own package only, under the shared
`livekit.plugins` namespace (no `__init__.py` that would hide the other plugins), with its
type marker and the model files; its requirements must be the pyproject's, and cover every
third-party module its code imports.
"""

from __future__ import annotations

import ast
import email.parser
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"
NAMESPACE_INITS = ("livekit/__init__.py", "livekit/plugins/__init__.py")
TRANSITIVE = {"livekit": "livekit-agents"}
"""Distributions the plugins import without naming them, and the requirement that brings
them at the version it was built against (LiveKit's own plugins do the same): `livekit`
(the `rtc` module) comes with `livekit-agents`, which pins it exactly (checked below)."""


@dataclass(frozen=True)
class Built:
    """A plugin's wheel, unpacked."""

    folder: Path
    """The plugin's folder in the repository."""
    wheel: Path
    unpacked: Path
    names: list[str]
    """Every file in the wheel (posix paths)."""
    metadata: email.message.Message
    pyproject: dict[str, object]


def build(folder: Path, out: Path) -> Built:
    """Build `folder`'s wheel from a clean copy under `out` and unpack it there."""
    src = out / "src"
    shutil.copytree(
        folder, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "dist")
    )
    wheels = out / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(wheels),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = wheels.glob("*.whl")
    unpacked = out / "unpacked"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(unpacked)
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = email.parser.Parser().parsestr((unpacked / meta).read_text(encoding="utf-8"))
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    return Built(folder, wheel, unpacked, names, metadata, pyproject)


def _dist_files(dist: str) -> list[str]:
    return [str(f) for f in importlib.metadata.files(dist) or []]


def owner(module: str, dists: list[str]) -> str | None:
    """Which of `dists` (installed) ships `module`, None if none does."""
    if not module:
        return None
    path = module.replace(".", "/")
    for dist in dists:
        for f in _dist_files(dist):
            if f == f"{path}.py" or f.startswith(f"{path}/") or f.startswith(f"{path}."):
                return dist
    return None


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute module names `source` imports (relative imports and `package` left out);
    `from a import b` counts as `a.b` (b may be a module of a namespace package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {m for m in found if m != package and not m.startswith(package + ".")}


def undeclared_imports(files: dict[str, str], package: str, dists: list[str]) -> list[str]:
    """ "file: module" for every third-party module imported by `files` (path -> source)
    that none of `dists` ships."""
    bad: list[str] = []
    for path, source in sorted(files.items()):
        for module in sorted(imported_modules(source, package)):
            if module.split(".")[0] in sys.stdlib_module_names:
                continue
            # `from livekit import rtc` names a module; `from numpy import float32` does not
            if owner(module, dists) is None and owner(module.rpartition(".")[0], dists) is None:
                bad.append(f"{path}: {module}")
    return bad


def _requirements(built: Built) -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in built.metadata.get_all("Requires-Dist") or []]
    return {r.name: r for r in reqs}


def _check_layout(built: Built, package_dir: str) -> None:
    dist_info = [n for n in built.names if ".dist-info/" in n]
    payload = [n for n in built.names if n not in dist_info]
    outside = [n for n in payload if not n.startswith(package_dir + "/")]
    assert outside == [], f"files outside {package_dir}: {outside}"
    for init in NAMESPACE_INITS:
        assert init not in built.names, f"{init} would break the livekit.plugins namespace"
    assert f"{package_dir}/py.typed" in built.names
    assert f"{package_dir}/__init__.py" in built.names
    # the sources the wheel was built from, all of them
    source_dir = built.folder / package_dir
    sources = {
        str(PurePosixPath(package_dir) / p.relative_to(source_dir).as_posix())
        for p in source_dir.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources <= set(payload)
    project = built.pyproject["project"]
    assert isinstance(project, dict)
    assert built.metadata["Name"] == project["name"]


def _check_requirements(built: Built) -> dict[str, Requirement]:
    project = built.pyproject["project"]
    assert isinstance(project, dict)
    declared = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    got = _requirements(built)
    assert got == declared
    return got


# ---------------------------------------------------------------- turntaking

TT = "livekit-plugins-turntaking"
TT_DIR = "livekit/plugins/turntaking"


@pytest.fixture(scope="module")
def turntaking(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(PLUGINS / TT, tmp_path_factory.mktemp("turntaking"))


def test_turntaking_wheel_holds_its_package_only(turntaking: Built) -> None:
    _check_layout(turntaking, TT_DIR)
    for top in ("plugins", "worker", "sim", "bench", "tests", "agent.py"):
        assert not any(n.split("/")[0] == top for n in turntaking.names), top
    version = turntaking.metadata["Version"]
    assert f'"{version}"' in (PLUGINS / TT / TT_DIR / "version.py").read_text(encoding="utf-8")
    assert turntaking.wheel.name.startswith(f"livekit_plugins_turntaking-{version}-")


def test_turntaking_wheel_holds_every_model_file_the_code_loads(turntaking: Built) -> None:
    # the unpacked wheel alone (ahead of the development install on the path) loads all of
    # its models: nothing the code reads is missing from the wheel
    probe = (
        "import json, livekit.plugins.turntaking as t\n"
        "from livekit.plugins.turntaking.arbiter import model as am\n"
        "from livekit.plugins.turntaking.endpointing import model as em\n"
        "m = t.load_models(load_vad=False)\n"
        "print(json.dumps({'files': [t.__file__, am.__file__, em.__file__],\n"
        "                  'problems': list(m.problems),\n"
        "                  'loaded': [x is not None for x in (m.arbiter_model,\n"
        "                      m.arbiter_params, m.arbiter_onset, m.completeness,\n"
        "                      m.pause_prior)]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(turntaking.unpacked)}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=turntaking.unpacked,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for f in result["files"]:
        assert Path(f).is_relative_to(turntaking.unpacked), f
    assert result["problems"] == []
    assert all(result["loaded"])
    data = [n for n in turntaking.names if "/data/" in n]
    for needed in (
        "arbiter/data/text_model.npz",
        "arbiter/data/onset_model.npz",
        "arbiter/data/params.json",
        "endpointing/data/completeness.npz",
        "endpointing/data/pause_prior.npz",
    ):
        assert f"{TT_DIR}/{needed}" in data, needed


def test_turntaking_requires_exactly_its_runtime_dependencies(turntaking: Built) -> None:
    reqs = _check_requirements(turntaking)
    assert set(reqs) == {
        "livekit-agents",
        "livekit-plugins-silero",
        "livekit-local-inference",
        "numpy",
    }
    # the audio end-of-turn model's native library, as livekit-agents 1.8.9 requires it
    assert reqs["livekit-local-inference"].specifier.contains("0.2.7")
    # the plugin is built on 1.8.9's internals: the 1.8 series only
    for name in ("livekit-agents", "livekit-plugins-silero"):
        spec = reqs[name].specifier
        assert spec.contains("1.8.9") and not spec.contains("1.8.8") and not spec.contains("1.9.0")
    assert reqs["numpy"].specifier.contains("1.26.0")
    assert not any(r.marker for r in reqs.values()) and not any(r.extras for r in reqs.values())
    python = turntaking.metadata["Requires-Python"]
    assert python is not None and "3.11" in python


def test_turntaking_imports_only_its_dependencies_and_the_standard_library(
    turntaking: Built,
) -> None:
    deps = list(_requirements(turntaking))
    files = {
        n: (turntaking.unpacked / n).read_text(encoding="utf-8")
        for n in turntaking.names
        if n.endswith(".py")
    }
    assert len(files) >= 10
    assert undeclared_imports(files, "livekit.plugins.turntaking", deps + list(TRANSITIVE)) == []


def test_transitive_livekit_comes_pinned_with_livekit_agents() -> None:
    for dist, via in TRANSITIVE.items():
        reqs = [Requirement(r) for r in importlib.metadata.requires(via) or []]
        pinned = [r for r in reqs if r.name == dist and not r.marker]
        assert pinned and str(pinned[0].specifier).startswith("=="), (dist, via)


def test_the_import_check_catches_an_undeclared_import() -> None:
    files = {
        "livekit/plugins/x/a.py": (
            "from __future__ import annotations\nimport json\nimport numpy as np\n"
            "from numpy import float32\nfrom livekit import rtc\nfrom . import b\n"
            "from livekit.plugins.x import c\n"
        ),
        "livekit/plugins/x/b.py": "import soxr\nfrom livekit.plugins import silero\n",
    }
    bad = undeclared_imports(files, "livekit.plugins.x", ["numpy", "livekit"])
    assert bad == [
        "livekit/plugins/x/b.py: livekit.plugins.silero",
        "livekit/plugins/x/b.py: soxr",
    ]


# ---------------------------------------------------------------- local whisper

LW = "livekit-plugins-local-whisper"
LW_DIR = "livekit/plugins/local_whisper"


@pytest.fixture(scope="module")
def local_whisper(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(PLUGINS / LW, tmp_path_factory.mktemp("local_whisper"))


def test_local_whisper_wheel_holds_its_package_and_declared_requirements(
    local_whisper: Built,
) -> None:
    _check_layout(local_whisper, LW_DIR)
    reqs = _check_requirements(local_whisper)
    assert "livekit-agents" in reqs and reqs["livekit-agents"].specifier.contains("1.8.9")
    assert not reqs["livekit-agents"].specifier.contains("1.9.0")
    files = {
        n: (local_whisper.unpacked / n).read_text(encoding="utf-8")
        for n in local_whisper.names
        if n.endswith(".py")
    }
    deps = list(reqs) + list(TRANSITIVE)
    assert undeclared_imports(files, "livekit.plugins.local_whisper", deps) == []
