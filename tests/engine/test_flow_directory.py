"""A flow spread over a directory: flow.yaml plus one file per stage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.engine import FlowLoadError, load_flows
from bot.engine.loader import load_flow_dir, load_flow_source
from bot.i18n.extract import extract_flow

MANIFEST = """\
spec_version: 1
id: staged
revision: 2
title: Staged protocol
start: hello
flags:
  danger:
    level: P0
    label: Danger
    guidance: Call 112.
nodes:
  hello:
    say: Hello.
    next: safe
"""

SAFETY = """\
nodes:
  safe:
    ask: yes_no
    text: Safe now?
    next:
      yes: support
      no: flag_danger
  flag_danger:
    flag: danger
    next: escalate
  escalate:
    escalate: Danger reported.
    next: support
"""

SUPPORT = """\
flags:
  distress:
    level: P2
    label: Distress
    guidance: Ground the caller.
nodes:
  support:
    ask: choice
    text: How is the caller?
    options:
      calm: Calm
      upset: Upset
    next:
      upset: flag_distress
      else: done
  flag_distress:
    flag: distress
    next: done
  done:
    end: completed
"""


def write(directory: Path, **files: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    return write(tmp_path / "staged", flow=MANIFEST, **{"10_safety": SAFETY, "20_support": SUPPORT})


def test_a_directory_is_one_flow(staged: Path):
    flow = load_flow_dir(staged)
    assert (flow.id, flow.revision) == ("staged", 2)
    assert set(flow.nodes) == {"hello", "safe", "flag_danger", "escalate", "support", "flag_distress", "done"}
    assert Path(flow.nodes["support"].file).name == "20_support.yaml"
    assert Path(flow.flags["distress"].file).name == "20_support.yaml"


def test_load_flows_finds_directories_beside_files(staged: Path, tmp_path: Path):
    assert set(load_flows(tmp_path)) == {"staged"}


def test_errors_name_the_stage_file_and_its_line(staged: Path):
    (staged / "20_support.yaml").write_text(SUPPORT.replace("else: done", "else: gone"))
    with pytest.raises(FlowLoadError) as caught:
        load_flow_dir(staged)
    [error] = caught.value.errors
    assert Path(error.path).name == "20_support.yaml" and error.node == "support"
    assert error.line == SUPPORT.splitlines().index("      else: done") + 1


def test_a_node_id_in_two_stage_files_is_refused(staged: Path):
    write(staged, **{"30_more": "nodes:\n  safe:\n    say: Again.\n    next: done\n"})
    with pytest.raises(FlowLoadError, match=r"30_more\.yaml:2: node 'safe': node id used twice \(first in .*10_safety\.yaml:2\)"):
        load_flow_dir(staged)


def test_stage_files_hold_only_nodes_and_flags(staged: Path):
    write(staged, **{"30_more": "revision: 3\nnodes:\n  extra:\n    say: x\n    next: done\n"})
    with pytest.raises(FlowLoadError, match="unknown key 'revision' in a stage file"):
        load_flow_dir(staged)


def test_the_stored_bundle_loads_back_to_the_same_flow(staged: Path):
    flow = load_flow_dir(staged)
    again = load_flow_source(flow.source, "<stored staged r2>")
    assert again.checksum == flow.checksum
    assert set(again.nodes) == set(flow.nodes) and again.flags.keys() == flow.flags.keys()


def test_a_damaged_bundle_is_an_error():
    with pytest.raises(FlowLoadError, match="damaged"):
        load_flow_source('{"pendamping-flow-bundle": 1, "files": 7}', "<stored>")


def test_the_extractor_takes_each_stage_files_own_texts(staged: Path):
    path = staged / "20_support.yaml"
    with path.open("rb") as handle:
        found = [(line, msgid) for line, _, msgid, _ in extract_flow(handle, {}, [], {})]
    assert ("How is the caller?" in [msgid for _, msgid in found]) and ("Hello." not in [msgid for _, msgid in found])
    assert (SUPPORT.splitlines().index("  support:") + 1, "How is the caller?") in found
    assert (SUPPORT.splitlines().index("      upset: Upset") + 1, "Upset") in found  # an option at its own line


def test_the_extractor_refuses_a_broken_single_file():
    handle = io.BytesIO(b"spec_version: 1\nid: x\n")
    handle.name = "/nonexistent/x.yaml"
    with pytest.raises(FlowLoadError):
        list(extract_flow(handle, {}, [], {}))
