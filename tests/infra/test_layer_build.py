"""The layer build: arm64 wheels without the AWS SDK, the ttai package, rebuilt only when its inputs change."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from infra.layer_build import (
    COMPLETE_MARKER,
    LAYER_BUILD_DIR,
    REQUIREMENTS_FILE,
    LayerBuildError,
    ensure_layer,
    inputs_hash,
    runtime_requirements,
    zipped_size,
)

LAYER_ZIP_BUDGET_BYTES = 5 * 1024 * 1024
SDK = ("boto3", "botocore", "s3transfer")

FAKE_UV = """\
#!{python}
# Stands in for uv: records each call, exports a requirement set with the SDK in it, "installs" one module.
import json, pathlib, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
if {fail!r} in args:
    sys.exit("uv: simulated failure")
if args[0] == "export":
    print("boto3==1.40.0\\nBotocore==1.40.0\\ns3transfer==0.14.0\\npydantic==2.12.0\\n")
elif args[:2] == ["pip", "install"]:
    target = pathlib.Path(args[args.index("--target") + 1])
    (target / "pydantic" / "__pycache__").mkdir(parents=True)
    (target / "pydantic" / "__init__.py").write_text("")
    (target / "pydantic" / "__pycache__" / "x.cpython-314.pyc").write_bytes(b"")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "layers" / "ttai" / "__pycache__").mkdir(parents=True)
    (root / "uv.lock").write_text("lock v1\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'fake'\n")
    (root / "layers" / "ttai" / "__init__.py").write_text("VERSION = 1\n")
    (root / "layers" / "ttai" / "storage.json").write_text("{}\n")
    (root / "layers" / "ttai" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"stale")
    return root


@pytest.fixture
def fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log = tmp_path / "uv-calls.jsonl"

    def install(fail_on: str = "never") -> Path:
        script = tmp_path / "uv"
        script.write_text(FAKE_UV.format(python=sys.executable, log=str(log), fail=fail_on))
        script.chmod(0o755)
        monkeypatch.setenv("UV", str(script))
        return log

    return install


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_requirements_drop_what_the_lambda_runtime_provides():
    exported = (
        "boto3==1.40.0\nBotocore==1.40\ns3transfer==0.1\npydantic==2.12.0\npyjwt==2.10.1 ; python_version >= '3'\n"
    )
    kept = runtime_requirements(exported).splitlines()
    assert kept == ["pydantic==2.12.0", "pyjwt==2.10.1 ; python_version >= '3'"]


def test_hash_follows_the_inputs_but_not_bytecode(project: Path):
    first = inputs_hash(project)
    (project / "layers" / "ttai" / "__pycache__" / "other.pyc").write_bytes(b"more bytecode")
    assert inputs_hash(project) == first
    (project / "layers" / "ttai" / "__init__.py").write_text("VERSION = 2\n")
    assert inputs_hash(project) != first
    changed = inputs_hash(project)
    (project / "uv.lock").write_text("lock v2\n")
    assert inputs_hash(project) != changed


def test_build_installs_for_lambda_and_copies_ttai(project: Path, fake_uv):
    log = fake_uv()
    layer = ensure_layer(project)
    assert layer == project / LAYER_BUILD_DIR / inputs_hash(project)
    assert (layer / COMPLETE_MARKER).is_file()
    assert (layer / "python" / "ttai" / "__init__.py").read_text() == "VERSION = 1\n"
    assert (layer / "python" / "ttai" / "storage.json").is_file()
    assert not list(layer.rglob("__pycache__"))
    assert not list(layer.rglob("*.pyc"))
    export, install = _calls(log)
    assert export[0] == "export"
    assert {"--frozen", "--no-dev", "--no-emit-project", "--no-hashes"} <= set(export)
    command = shlex.join(install)
    assert "--python-platform aarch64-manylinux_2_28" in command
    assert "--python-version 3.14" in command
    assert "--only-binary :all:" in command
    assert Path(install[install.index("-r") + 1]).name == REQUIREMENTS_FILE
    assert (layer / REQUIREMENTS_FILE).read_text() == "pydantic==2.12.0\n"


def test_second_call_does_not_rebuild(project: Path, fake_uv):
    log = fake_uv()
    layer = ensure_layer(project)
    marker_mtime = (layer / COMPLETE_MARKER).stat().st_mtime_ns
    calls = len(_calls(log))
    assert ensure_layer(project) == layer
    assert len(_calls(log)) == calls
    assert (layer / COMPLETE_MARKER).stat().st_mtime_ns == marker_mtime


def test_changed_inputs_rebuild_and_drop_the_stale_layer(project: Path, fake_uv):
    fake_uv()
    old = ensure_layer(project)
    (project / "layers" / "ttai" / "__init__.py").write_text("VERSION = 2\n")
    new = ensure_layer(project)
    assert new != old
    assert not old.exists()
    assert (new / "python" / "ttai" / "__init__.py").read_text() == "VERSION = 2\n"
    assert sorted(p.name for p in (project / LAYER_BUILD_DIR).iterdir()) == [new.name]


def test_failed_install_leaves_no_layer_behind(project: Path, fake_uv):
    fake_uv(fail_on="install")
    with pytest.raises(LayerBuildError, match="simulated failure"):
        ensure_layer(project)
    assert list((project / LAYER_BUILD_DIR).iterdir()) == []


def test_zipped_size_leaves_out_build_records_and_bytecode(tmp_path: Path):
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "module.py").write_text("x = 1\n" * 1000)
    without_records = zipped_size(tmp_path)
    (tmp_path / "requirements.txt").write_text("a==1\n" * 5000)
    (tmp_path / "python" / "__pycache__").mkdir()
    (tmp_path / "python" / "__pycache__" / "module.cpython-314.pyc").write_bytes(bytes(range(256)) * 100)
    assert zipped_size(tmp_path) == without_records
    assert 0 < without_records < 6000


@pytest.mark.slow
class TestRealLayer:
    def test_holds_arm64_wheels_for_python_3_14(self, layer_dir: Path):
        binaries = [p.name for p in (layer_dir / "python" / "pydantic_core").glob("*.so")]
        assert binaries
        assert all("cpython-314-aarch64" in name for name in binaries), binaries

    def test_holds_ttai_and_not_the_sdk(self, layer_dir: Path):
        site = layer_dir / "python"
        assert (site / "ttai" / "__init__.py").is_file()
        assert (site / "ttai" / "storage.json").is_file()
        for package in SDK:
            assert not (site / package).exists(), package
            assert not list(site.glob(f"{package}-*.dist-info")), package
        assert not list(site.rglob("__pycache__"))

    def test_is_reused_while_its_inputs_are_unchanged(self, layer_dir: Path):
        marker = layer_dir / COMPLETE_MARKER
        before = marker.stat().st_mtime_ns
        assert ensure_layer(layer_dir.parents[2]) == layer_dir
        assert marker.stat().st_mtime_ns == before

    def test_fits_the_size_budget(self, layer_dir: Path):
        assert zipped_size(layer_dir) <= LAYER_ZIP_BUDGET_BYTES
