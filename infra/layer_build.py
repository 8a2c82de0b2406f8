"""Builds the Lambda layers for arm64 Python 3.14 without Docker.

The shared layer holds the runtime dependencies plus `ttai`; a group layer holds only one dependency group of
pyproject.toml (the auth function's cryptography, which would push the shared layer past its size budget; the
scheduler function's holiday calendar; the workflow functions' durable execution SDK).
Run `python -m infra.layer_build` to build every layer (if its inputs changed) and print their directories.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from infra.paths import LAYER_SOURCE_DIR, PROJECT_ROOT

TARGET_PYTHON_VERSION = "3.14"
TARGET_PLATFORM = "aarch64-manylinux_2_28"
# Bump when the recipe below changes in a way the hashed inputs cannot see.
RECIPE_VERSION = "2"

LAYER_BUILD_DIR = "build/layer"
# The dependency groups that ship as layers of their own, each built under build/layer-<group>/.
AUTH_LAYER_GROUP = "auth-layer"
# The scheduler function's NYSE holiday calendar (holidays and its dependencies).
SCHEDULER_LAYER_GROUP = "scheduler-layer"
# The workflows' durable functions: the durable execution SDK.
WORKFLOWS_LAYER_GROUP = "workflows-layer"
LAYER_GROUPS = (AUTH_LAYER_GROUP, SCHEDULER_LAYER_GROUP, WORKFLOWS_LAYER_GROUP)
COMPLETE_MARKER = ".complete"
REQUIREMENTS_FILE = "requirements.txt"
# Files next to python/ that record how the layer was built; they stay out of the deployed zip.
BUILD_RECORDS = (COMPLETE_MARKER, REQUIREMENTS_FILE)

# The Lambda Python runtime provides the AWS SDK; shipping it would only grow the layer and pin an old SDK.
PROVIDED_BY_RUNTIME = frozenset({"boto3", "botocore", "s3transfer"})


# A half-built directory this old cannot belong to a build still running.
_ABANDONED_AFTER_SECONDS = 3600
_SKIPPED_NAMES = frozenset({"__pycache__"})
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_GROUP_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class LayerBuildError(RuntimeError):
    """uv is missing or failed to export or install the layer's requirements."""


def find_uv(root: Path) -> str:
    """uv from $UV, else from PATH, else the copy the Makefile installs under .tools/."""
    if configured := os.environ.get("UV"):
        return configured
    if on_path := shutil.which("uv"):
        return on_path
    bundled = root / ".tools" / "bin" / "uv"
    if bundled.is_file():
        return str(bundled)
    msg = "uv not found: set UV to its path, put it on PATH, or install it under .tools/bin/"
    raise LayerBuildError(msg)


def _source_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and path.suffix != ".pyc" and not _SKIPPED_NAMES.intersection(relative.parts):
            yield path


def _checked_group(group: str | None) -> str | None:
    # The name becomes part of a directory path and of a uv argument.
    if group is not None and not _GROUP_NAME.match(group):
        msg = f"{group!r} is not a dependency group name (lowercase letters, digits and single hyphens)"
        raise LayerBuildError(msg)
    return group


def layer_build_dir(group: str | None = None) -> str:
    """Where builds of one layer live (relative to the project): each in a directory named by its inputs hash."""
    return LAYER_BUILD_DIR if _checked_group(group) is None else f"{LAYER_BUILD_DIR}-{group}"


def inputs_hash(root: Path, group: str | None = None) -> str:
    """Digest of everything the layer's contents depend on: a new digest means a new build.

    A group layer depends on the lock and pyproject.toml only: editing `ttai` does not rebuild it.
    """
    digest = hashlib.sha256()
    recipe = f"recipe={RECIPE_VERSION};python={TARGET_PYTHON_VERSION};platform={TARGET_PLATFORM};"
    digest.update(recipe.encode())
    if _checked_group(group) is not None:
        digest.update(f"group={group};".encode())
    provided = ",".join(sorted(PROVIDED_BY_RUNTIME))
    digest.update(f"excluded={provided};".encode())
    inputs = [root / "uv.lock", root / "pyproject.toml"]
    if group is None:
        inputs.extend(_source_files(root / LAYER_SOURCE_DIR))
    for path in inputs:
        content = path.read_bytes()
        # Length-prefixed so that moving bytes between a name and a body changes the digest.
        name = path.relative_to(root).as_posix().encode()
        digest.update(b"%d:%s%d:" % (len(name), name, len(content)))
        digest.update(content)
    return digest.hexdigest()[:32]


def runtime_requirements(exported: str) -> str:
    """The exported requirement lines minus what the Lambda runtime already provides, and minus what is there only
    because something the runtime provides needs it: boto3's own dependencies (botocore, jmespath, python-dateutil,
    urllib3...), which the durable execution SDK pulls in through boto3 and the runtime already has.

    ``exported`` is uv's annotated export (``# via`` lines name who needs a package); a requirement with no
    ``# via``, or needed by something kept or outside the export (the project), is kept.
    """
    requirements: dict[str, str] = {}
    needed_by: dict[str, list[str]] = {}
    current = None
    for line in exported.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            parent = stripped.lstrip("#").strip()
            parent = parent[len("via") :].strip() if parent == "via" or parent.startswith("via ") else parent
            if current is not None and parent:
                needed_by[current].append(_normalized(parent))
            continue
        match = _REQUIREMENT_NAME.match(stripped)
        current = _normalized(match.group(1)) if match else stripped
        requirements[current] = stripped
        needed_by[current] = []
    kept = {name for name in requirements if name not in PROVIDED_BY_RUNTIME}
    while True:  # drop what only dropped packages need, until nothing changes
        dropped = {
            name
            for name in kept
            if needed_by[name] and all(p in requirements and p not in kept for p in needed_by[name])
        }
        if not dropped:
            break
        kept -= dropped
    return "".join(f"{line}\n" for name, line in requirements.items() if name in kept) or "\n"


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(command: list[str], cwd: Path) -> str:
    try:
        # The command is built here from constants and paths; nothing comes from user input.
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)  # noqa: S603
    except FileNotFoundError as exc:
        msg = f"cannot run {command[0]}: {exc}"
        raise LayerBuildError(msg) from exc
    except subprocess.CalledProcessError as exc:
        msg = f"{' '.join(command[:3])} failed with exit code {exc.returncode}:\n{exc.stderr}"
        raise LayerBuildError(msg) from exc
    return completed.stdout


def _prune_bytecode(directory: Path) -> None:
    for cache in sorted(directory.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for compiled in directory.rglob("*.pyc"):
        compiled.unlink()


def _build(root: Path, out: Path, group: str | None) -> None:
    uv = find_uv(root)
    # The shared layer ships the project's runtime dependencies; a group layer exactly one group's pins.
    selection = ["--no-dev", "--no-default-groups"] if group is None else ["--only-group", group]
    exported = _run(
        [
            uv, "export", "--frozen", *selection, "--no-emit-project",
            "--no-hashes", "--no-header",
        ],
        cwd=root,
    )  # fmt: skip
    requirements = out / REQUIREMENTS_FILE
    requirements.write_text(runtime_requirements(exported), encoding="utf-8")
    site = out / "python"
    _run(
        [
            uv, "pip", "install", "--target", str(site),
            "--python-platform", TARGET_PLATFORM, "--python-version", TARGET_PYTHON_VERSION,
            # The export is the complete pinned set; resolving again could pull the filtered SDK back in.
            "--only-binary", ":all:", "--no-deps", "--link-mode", "copy",
            "-r", str(requirements),
        ],
        cwd=root,
    )  # fmt: skip
    if group is None:
        shutil.copytree(root / LAYER_SOURCE_DIR, site / "ttai", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _prune_bytecode(site)


def _remove_stale(base: Path, keep: str) -> None:
    for child in base.iterdir():
        # A .tmp- directory may be another process's build in progress: only clear it once clearly abandoned.
        in_progress = child.name.startswith(".tmp-") and (
            time.time() - child.stat().st_mtime < _ABANDONED_AFTER_SECONDS
        )
        if child.name == keep or in_progress:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def ensure_layer(root: Path = PROJECT_ROOT, group: str | None = None) -> Path:
    """The layer directory for the current inputs (holding `python/`), built first if it does not exist.

    Without `group` this is the shared layer; with it, the layer of that dependency group of pyproject.toml.
    Each layer keeps only its current build: stale builds of the same layer are removed, other layers untouched.
    """
    root = root.resolve()
    digest = inputs_hash(root, group)
    base = root / layer_build_dir(group)
    target = base / digest
    if (target / COMPLETE_MARKER).is_file():
        return target
    base.mkdir(parents=True, exist_ok=True)
    print(f"building Lambda layer {target.relative_to(root)} ...", file=sys.stderr)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{digest}-", dir=base))
    try:
        _build(root, staging, group)
        (staging / COMPLETE_MARKER).write_text(f"{digest}\n", encoding="utf-8")
        # mkdtemp makes the directory private; Lambda reads layers as another user.
        staging.chmod(0o755)
        if target.exists() and not (target / COMPLETE_MARKER).is_file():
            shutil.rmtree(target)  # debris of a build that died between mkdir and marker (older recipe)
        try:
            staging.rename(target)  # atomic: readers see no layer or a whole one
        except OSError:
            if not (target / COMPLETE_MARKER).is_file():
                raise
            # A concurrent build of the same inputs won the rename; its result is identical.
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    _remove_stale(base, keep=digest)
    return target


def zipped_size(directory: Path, exclude: tuple[str, ...] = BUILD_RECORDS) -> int:
    """Bytes of `directory` zipped with deflate, as deployed: without build records and without bytecode."""
    with tempfile.TemporaryFile() as buffer:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in _source_files(directory):
                relative = path.relative_to(directory).as_posix()
                if relative not in exclude:
                    archive.write(path, relative)
        return buffer.tell()


def main() -> int:
    try:
        for group in (None, *LAYER_GROUPS):
            print(ensure_layer(PROJECT_ROOT, group))
    except LayerBuildError as exc:
        print(f"layer build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
