"""Node types from plugins: a ``dagy.nodes`` entry point of an installed distribution (here a tiny
dist-info folder on PYTHONPATH) adds node types; broken or clashing ones are skipped with a warning."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dagy.nodes import registry
from tests.conftest import ServerProcess, start_server

PLUGIN = """
from dagy.nodes.model import Connector, NodeDef


def _node(node_type, label, tags=()):
    return NodeDef(
        node_type, label, "A node from the demo plugin", "transform", "Puzzle", "teal",
        (Connector("data_in", "Data", "inbound", ("json",), "one", True),
         Connector("data_out", "Data", "outbound", ("json",))),
        tags=tags, impl="dagy_demo_nodes:run",
    )


def nodes():
    return [_node("demo_upper", "Demo Upper", ("uppercase",)), _node("demo_lower", "Demo Lower")]


SINGLE = _node("demo_single", "Demo Single")
CLASH = _node("s3_ingest", "Not S3")
WRONG = 42
"""
ENTRY_POINTS = """
[dagy.nodes]
demo = dagy_demo_nodes:nodes
single = dagy_demo_nodes:SINGLE
clash = dagy_demo_nodes:CLASH
wrong = dagy_demo_nodes:WRONG
missing = dagy_no_such_module:nodes
"""


def install_plugin(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagy_demo_nodes.py").write_text(textwrap.dedent(PLUGIN))
    info = folder / "dagy_demo_nodes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dagy-demo-nodes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return folder


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path / "site")))
    registry.builtins.cache_clear()
    yield
    registry.builtins.cache_clear()


def test_plugin_nodes_join_the_builtins_and_bad_plugins_are_skipped(plugin_on_path):
    with pytest.warns(RuntimeWarning) as caught:
        found = registry.builtins()
    assert len(found) == 30
    assert list(found)[27:] == ["demo_upper", "demo_lower", "demo_single"]
    assert found["s3_ingest"].label == "S3 Ingest"  # a plugin cannot replace a built-in
    messages = " | ".join(str(w.message) for w in caught)
    assert "'s3_ingest' already exists" in messages
    assert "'wrong'" in messages and "expected a NodeDef" in messages
    assert "'missing'" in messages and "dagy_no_such_module" in messages
    assert registry.lookup("demo_single") is found["demo_single"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("plugins")
    site = install_plugin(tmp / "site")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    server = start_server(tmp / "home", env={"PYTHONPATH": path})
    yield server
    server.stop()


def test_a_served_registry_shows_plugin_nodes(srv):
    status, _, body = srv.request("GET", "/nodes/registry/builtin", token=srv.local_token)
    assert status == 200, body
    assert (body["total"], body["builtin_count"], body["custom_count"]) == (30, 30, 0)
    status, _, body = srv.request("GET", "/nodes/registry/demo_upper", token=srv.local_token)
    assert status == 200
    assert body["label"] == "Demo Upper" and body["category"] == "transform"
    status, _, body = srv.request(
        "GET", "/nodes/registry/search?q=uppercase", token=srv.local_token
    )
    assert [i["node_type"] for i in body["items"]] == ["demo_upper"]
    status, _, body = srv.request("GET", "/nodes/registry/categories", token=srv.local_token)
    assert body["categories"][1] == {"id": "transform", "label": "Transform", "count": 8}
    status, _, body = srv.request("DELETE", "/nodes/registry/demo_upper", token=srv.local_token)
    assert status == 403
    log = srv.stderr_path.read_text()  # type: ignore[attr-defined]
    assert "dagy.nodes plugin 'missing'" in log
