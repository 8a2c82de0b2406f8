"""The layer builds: arm64 wheels without the AWS SDK (plus ttai in the shared one), rebuilt only when inputs change."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

import infra.layer_build
from infra.layer_build import (
    AUTH_LAYER_GROUP,
    COMPLETE_MARKER,
    LAYER_BUILD_DIR,
    REQUIREMENTS_FILE,
    SCHEDULER_LAYER_GROUP,
    WORKFLOWS_LAYER_GROUP,
    LayerBuildError,
    ensure_layer,
    inputs_hash,
    layer_build_dir,
    runtime_requirements,
    zipped_size,
)

LAYER_ZIP_BUDGET_BYTES = 5 * 1024 * 1024
SDK = ("boto3", "botocore", "s3transfer")
GROUP = "auth-layer"
# ELF header: e_machine (offset 18, little-endian) is 183 for AArch64.
ELF_MAGIC = b"\x7fELF"
EM_AARCH64 = 183

FAKE_UV = """\
#!{python}
# Stands in for uv: records each call, exports a requirement set with the SDK in it (the project's runtime set, or
# the group's with --only-group), "installs" one module per requirement.
import json, pathlib, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
if {fail!r} in args:
    sys.exit("uv: simulated failure")
if args[0] == "export" and "--only-group" in args:
    print("boto3==1.40.0\\ncffi==2.1.1 ; platform_python_implementation != 'PyPy'\\ncryptography==50.0.2\\n")
elif args[0] == "export":
    print("boto3==1.40.0\\nBotocore==1.40.0\\ns3transfer==0.14.0\\npydantic==2.12.0\\n")
elif args[:2] == ["pip", "install"]:
    target = pathlib.Path(args[args.index("--target") + 1])
    for line in pathlib.Path(args[args.index("-r") + 1]).read_text().splitlines():
        module = line.split("==")[0]
        (target / module / "__pycache__").mkdir(parents=True)
        (target / module / "__init__.py").write_text("")
        (target / module / "__pycache__" / "x.cpython-314.pyc").write_bytes(b"")
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


def test_requirements_drop_what_only_the_runtimes_sdk_needs_and_keep_what_others_need():
    """The durable SDK pulls in boto3 and, through it, packages the runtime has; holidays needs python-dateutil."""
    exported = (
        "aws-durable-execution-sdk-python==3.0.0\n"
        "boto3==1.44.5\n    # via aws-durable-execution-sdk-python\n"
        "botocore==1.44.5\n    # via\n    #   boto3\n    #   s3transfer\n"
        "holidays==0.109\n"
        "jmespath==1.1.0\n    # via\n    #   boto3\n    #   botocore\n"
        "python-dateutil==2.9.0.post0\n    # via\n    #   botocore\n    #   holidays\n"
        "s3transfer==0.19.3\n    # via boto3\n"
        "six==1.17.0\n    # via python-dateutil\n"
        "urllib3==2.8.0\n    # via botocore\n"
    )
    kept = runtime_requirements(exported).splitlines()
    assert kept == [
        "aws-durable-execution-sdk-python==3.0.0",
        "holidays==0.109",
        "python-dateutil==2.9.0.post0",
        "six==1.17.0",
    ]


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


def test_group_layer_ships_only_its_group_and_not_ttai(project: Path, fake_uv):
    log = fake_uv()
    layer = ensure_layer(project, GROUP)
    assert layer == project / "build" / f"layer-{GROUP}" / inputs_hash(project, GROUP)
    assert (layer / COMPLETE_MARKER).is_file()
    site = layer / "python"
    assert sorted(p.name for p in site.iterdir()) == ["cffi", "cryptography"]
    assert not (site / "ttai").exists()
    assert not list(layer.rglob("__pycache__"))
    export, install = _calls(log)
    assert export[0] == "export"
    assert export[export.index("--only-group") + 1] == GROUP
    assert {"--frozen", "--no-emit-project", "--no-hashes"} <= set(export)
    assert "--no-dev" not in export
    command = shlex.join(install)
    assert "--python-platform aarch64-manylinux_2_28" in command
    assert "--python-version 3.14" in command
    assert "--only-binary :all:" in command
    assert (layer / REQUIREMENTS_FILE).read_text() == (
        "cffi==2.1.1 ; platform_python_implementation != 'PyPy'\ncryptography==50.0.2\n"
    )


def test_group_hash_follows_the_lock_but_not_ttai(project: Path):
    group, shared = inputs_hash(project, GROUP), inputs_hash(project)
    assert group != shared
    (project / "layers" / "ttai" / "__init__.py").write_text("VERSION = 2\n")
    assert inputs_hash(project, GROUP) == group
    assert inputs_hash(project) != shared
    (project / "uv.lock").write_text("lock v2\n")
    assert inputs_hash(project, GROUP) != group
    assert inputs_hash(project, "other-group") != inputs_hash(project, GROUP)


def test_second_group_call_does_not_rebuild(project: Path, fake_uv):
    log = fake_uv()
    layer = ensure_layer(project, GROUP)
    marker_mtime = (layer / COMPLETE_MARKER).stat().st_mtime_ns
    calls = len(_calls(log))
    assert ensure_layer(project, GROUP) == layer
    assert len(_calls(log)) == calls
    assert (layer / COMPLETE_MARKER).stat().st_mtime_ns == marker_mtime


def test_each_layer_drops_only_its_own_stale_builds(project: Path, fake_uv):
    fake_uv()
    shared, group = ensure_layer(project), ensure_layer(project, GROUP)
    (project / "layers" / "ttai" / "__init__.py").write_text("VERSION = 2\n")
    new_shared = ensure_layer(project)
    assert not shared.exists()
    assert ensure_layer(project, GROUP) == group
    assert group.is_dir()
    (project / "uv.lock").write_text("lock v2\n")
    new_group = ensure_layer(project, GROUP)
    assert sorted(p.name for p in (project / layer_build_dir(GROUP)).iterdir()) == [new_group.name]
    assert sorted(p.name for p in (project / LAYER_BUILD_DIR).iterdir()) == [new_shared.name]


@pytest.mark.parametrize("group", ["../escape", "Auth", "auth layer", "", "-x"])
def test_a_group_name_that_is_no_dependency_group_is_refused(project: Path, fake_uv, group: str):
    log = fake_uv()
    with pytest.raises(LayerBuildError, match="not a dependency group name"):
        ensure_layer(project, group)
    assert _calls(log) == []
    assert not (project / "build").exists()


def test_main_builds_and_prints_every_layer(project: Path, fake_uv, monkeypatch, capsys):
    fake_uv()
    monkeypatch.setattr(infra.layer_build, "PROJECT_ROOT", project)
    assert infra.layer_build.main() == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        str(ensure_layer(project)),
        str(ensure_layer(project, AUTH_LAYER_GROUP)),
        str(ensure_layer(project, SCHEDULER_LAYER_GROUP)),
        str(ensure_layer(project, WORKFLOWS_LAYER_GROUP)),
    ]


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


@pytest.mark.slow
class TestRealAuthLayer:
    def test_holds_cryptography_built_for_arm64(self, auth_layer_dir: Path):
        site = auth_layer_dir / "python"
        [rust] = list((site / "cryptography").rglob("_rust*.so"))
        assert rust.name.endswith(".abi3.so")
        header = rust.read_bytes()[:20]
        assert header[:4] == ELF_MAGIC
        assert int.from_bytes(header[18:20], "little") == EM_AARCH64
        cffi_backends = [p.name for p in site.glob("_cffi_backend*.so")]
        assert cffi_backends
        assert all("cpython-314-aarch64" in name for name in cffi_backends), cffi_backends

    def test_holds_neither_ttai_nor_the_sdk_nor_the_shared_dependencies(self, auth_layer_dir: Path):
        site = auth_layer_dir / "python"
        assert not (site / "ttai").exists()
        for package in (*SDK, "pydantic", "aws_lambda_powertools"):
            assert not (site / package).exists(), package
        assert not list(site.rglob("__pycache__"))

    def test_shares_no_file_with_the_shared_layer(self, auth_layer_dir: Path, layer_dir: Path):
        def files(layer: Path) -> set[str]:
            return {p.relative_to(layer).as_posix() for p in (layer / "python").rglob("*") if p.is_file()}

        # uv leaves an empty lock file in every target; nothing else may be shadowed by the other layer.
        assert files(auth_layer_dir) & files(layer_dir) <= {"python/.lock"}

    def test_is_reused_while_its_inputs_are_unchanged(self, auth_layer_dir: Path):
        marker = auth_layer_dir / COMPLETE_MARKER
        before = marker.stat().st_mtime_ns
        assert ensure_layer(auth_layer_dir.parents[2], AUTH_LAYER_GROUP) == auth_layer_dir
        assert marker.stat().st_mtime_ns == before

    def test_fits_the_size_budget(self, auth_layer_dir: Path):
        assert zipped_size(auth_layer_dir) <= LAYER_ZIP_BUDGET_BYTES


@pytest.mark.slow
class TestRealSchedulerLayer:
    def test_holds_the_holiday_calendar_with_nyse_and_not_the_sdk(self, scheduler_layer_dir: Path):
        site = scheduler_layer_dir / "python"
        assert (site / "holidays" / "financial" / "ny_stock_exchange.py").is_file()
        assert (site / "dateutil").is_dir()  # holidays needs python-dateutil, which the shared layer lacks
        for package in (*SDK, "ttai", "pydantic", "aws_lambda_powertools", "cryptography"):
            assert not (site / package).exists(), package
        assert not list(site.rglob("__pycache__"))

    def test_shares_no_file_with_the_shared_layer(self, scheduler_layer_dir: Path, layer_dir: Path):
        def files(layer: Path) -> set[str]:
            return {p.relative_to(layer).as_posix() for p in (layer / "python").rglob("*") if p.is_file()}

        assert files(scheduler_layer_dir) & files(layer_dir) <= {"python/.lock"}

    def test_fits_the_size_budget(self, scheduler_layer_dir: Path):
        assert zipped_size(scheduler_layer_dir) <= LAYER_ZIP_BUDGET_BYTES


@pytest.mark.slow
class TestRealWorkflowsLayer:
    def test_holds_the_durable_sdk_alone(self, workflows_layer_dir: Path):
        site = workflows_layer_dir / "python"
        assert (site / "aws_durable_execution_sdk_python" / "execution.py").is_file()
        # boto3 and what only boto3 needs come with the runtime; jmespath is the shared layer's.
        for package in (*SDK, "jmespath", "dateutil", "six.py", "urllib3", "ttai", "pydantic"):
            assert not (site / package).exists(), package
        requirements = (workflows_layer_dir / REQUIREMENTS_FILE).read_text().split()
        assert requirements == ["aws-durable-execution-sdk-python==3.0.0"]

    def test_shares_no_file_with_the_shared_layer(self, workflows_layer_dir: Path, layer_dir: Path):
        def files(layer: Path) -> set[str]:
            return {p.relative_to(layer).as_posix() for p in (layer / "python").rglob("*") if p.is_file()}

        assert files(workflows_layer_dir) & files(layer_dir) <= {"python/.lock"}

    def test_fits_the_size_budget(self, workflows_layer_dir: Path):
        assert zipped_size(workflows_layer_dir) <= LAYER_ZIP_BUDGET_BYTES
