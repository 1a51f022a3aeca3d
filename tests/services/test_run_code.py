"""Where a queued run's code comes from: its entrypoint file, or a `dagy build` zip checked
against its manifest before anything of it is kept."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from dagy.config.paths import DagyPaths
from dagy.services.catalog.build import build_artifact, manifest_for
from dagy.services.runs import code as run_code

FLOW = """
from dagy import flow, task


@task
def one() -> int:
    return 1


@flow(name="packed", version="1.0.0")
def packed():
    return one()
"""


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    source = tmp_path / "src" / "packed.py"
    source.parent.mkdir()
    source.write_text(FLOW)
    built = build_artifact(f"{source}:packed", {}, tmp_path / "dist", DagyPaths(tmp_path / "h"))
    return built.artifact_path


def rewrite(src: Path, dest: Path, change) -> Path:
    """A copy of the zip with ``change(name, data)`` applied to each entry (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            data = change(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return dest


def test_an_artifact_is_extracted_with_every_file_checked(artifact: Path, tmp_path: Path):
    dest = tmp_path / "out"
    run_code.extract_verified(artifact, dest)
    assert sorted(p.name for p in dest.iterdir()) == [
        "flow_spec.json",
        "metadata.json",
        "packed.py",
    ]
    assert "def packed" in (dest / "packed.py").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n, d: d.replace(b"return 1", b"return 2") if n == "packed.py" else d, "match"),
        (lambda n, d: None if n == "packed.py" else d, "lacks packed.py"),
        (lambda n, d: None if n == "manifest.json" else d, "no valid manifest.json"),
    ],
    ids=["tampered", "missing", "no-manifest"],
)
def test_a_zip_that_does_not_match_its_manifest_is_refused(artifact, tmp_path, change, message):
    bad = rewrite(artifact, tmp_path / "bad.zip", change)
    with pytest.raises(ValueError, match=message):
        run_code.extract_verified(bad, tmp_path / "out")


def test_extra_files_and_unsafe_paths_are_refused(artifact: Path, tmp_path: Path):
    extra = rewrite(artifact, tmp_path / "extra.zip", lambda n, d: d)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("sneaky.py", b"print('hi')")
    with pytest.raises(ValueError, match="not in its manifest"):
        run_code.extract_verified(extra, tmp_path / "out-1")

    data = b"print('out')"
    unsafe = tmp_path / "unsafe.zip"
    with zipfile.ZipFile(unsafe, "w") as zf:
        zf.writestr("../escaped.py", data)
        zf.writestr(
            "manifest.json",
            json.dumps({"files": manifest_for([("../escaped.py", data)])["files"]}),
        )
    with pytest.raises(ValueError, match="unsafe path: '../escaped.py'"):
        run_code.extract_verified(unsafe, tmp_path / "out-2")
    assert not (tmp_path / "escaped.py").exists()


def test_an_entrypoint_on_disk_is_used_as_it_is(tmp_path: Path):
    flow_file = tmp_path / "f.py"
    flow_file.write_text(FLOW)
    paths = DagyPaths(tmp_path / "home")
    target = run_code.target_for(
        paths, "personal", "packed", "1.0.0", {"entrypoint": f"{flow_file}:packed"}
    )
    assert target == f"{flow_file}:packed"
    with pytest.raises(run_code.NoRunnableCode, match="no runnable code"):
        run_code.target_for(paths, "personal", "packed", "1.0.0", {"entrypoint": "gone.py:packed"})


def test_code_folders_are_per_org_flow_and_version_and_safe(tmp_path: Path):
    paths = DagyPaths(tmp_path / "home")
    folder = run_code.code_dir(paths, "org_1", "../etl", "1.0.0")
    assert folder == paths.home / "code" / "org_1" / "_etl" / "1.0.0"


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``dagy.artifacts.fetch`` for a ``file://`` URI (a copy into dest_dir), recording its calls.

    The artifact store lands separately; until then this stands in for its local backend."""
    import shutil
    import sys
    import types

    calls: list[str] = []

    def fetch(uri: str, dest_dir: Path) -> Path:
        calls.append(uri)
        Path(dest_dir).mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(uri.removeprefix("file://"), Path(dest_dir) / "artifact.zip"))

    try:
        import dagy.artifacts as module

        monkeypatch.setattr(module, "fetch", fetch)
    except ImportError:
        monkeypatch.setitem(sys.modules, "dagy.artifacts", types.SimpleNamespace(fetch=fetch))
    return calls


def test_an_artifact_is_unpacked_once_per_code_hash(artifact, tmp_path, fetches):
    paths = DagyPaths(tmp_path / "home")
    code = {
        "entrypoint": "packed.py:packed",
        "artifact_uri": f"file://{artifact}",
        "code_hash": "a",
    }
    target = run_code.target_for(paths, "org_1", "packed", "1.0.0", code)
    folder = run_code.code_dir(paths, "org_1", "packed", "1.0.0")
    assert target == f"{folder / 'packed.py'}:packed"
    from dagy.sdk.loader import load_flow

    assert load_flow(target).build().flow_name == "packed"
    assert run_code.target_for(paths, "org_1", "packed", "1.0.0", code) == target
    assert len(fetches) == 1  # the second run of the version reuses the folder
    (folder / "packed.py").write_text("stale")
    run_code.target_for(paths, "org_1", "packed", "1.0.0", {**code, "code_hash": "b"})
    assert len(fetches) == 2 and "def packed" in (folder / "packed.py").read_text()
    assert sorted(p.name for p in folder.parent.iterdir()) == ["1.0.0"]  # no leftovers
