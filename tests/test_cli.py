"""The `pendamping` command: flow checks and refusals to start on bad input."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.checks import run_check
from bot.cli import main
from bot.library import DEFAULT_FLOWS_DIR
from storage import Database, upgrade
from tests.conftest import DEMO_FLOW


def test_the_shipped_flows_pass_the_strict_check():
    out = io.StringIO()
    assert run_check([DEFAULT_FLOWS_DIR], strict=True, out=out) == 0, out.getvalue()


def test_a_broken_flow_fails_the_check_with_file_and_line(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_FLOW.replace("yes: age", "yes: agee"))
    assert main(["flows", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:" in out and "node 'safe': route 'yes' leads to unknown node 'agee'" in out


def test_warnings_fail_only_under_strict(tmp_path: Path, capsys):
    flow = tmp_path / "demo.yaml"
    flow.write_text(DEMO_FLOW)  # its texts have no Indonesian translation
    assert main(["flows", "check", str(flow)]) == 0
    assert main(["flows", "check", "--strict", str(flow)]) == 1
    assert "warning: " in capsys.readouterr().out


def test_the_console_refuses_an_invalid_flow_directory(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "bad.yaml").write_text("spec_version: 1\nid: x\n")
    monkeypatch.setenv("PENDAMPING_FLOWS_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["console"]) == 2
    assert "nothing was started" in capsys.readouterr().err


def test_the_console_refuses_an_unmigrated_database(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.delenv("PENDAMPING_FLOWS_DIR", raising=False)
    assert main(["console"]) == 2
    assert "pendamping db upgrade" in capsys.readouterr().err


def test_a_flow_changed_under_a_revision_already_stored_stops_start_up_with_a_message(tmp_path: Path, monkeypatch, capsys):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "demo.yaml").write_text(DEMO_FLOW)
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("PENDAMPING_FLOWS_DIR", str(flows))
    monkeypatch.setenv("PENDAMPING_START_FLOW", "demo")
    monkeypatch.setenv("DATABASE_URL", database)
    upgrade(Database(database))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["console"]) == 0  # stores revision 1
    (flows / "demo.yaml").write_text(DEMO_FLOW.replace("title: Demo screen", "title: Demo screen, changed"))
    assert main(["console"]) == 2
    assert "raise its revision number; nothing was started" in capsys.readouterr().err


def test_a_bad_setting_stops_start_up_with_its_name(monkeypatch, capsys):
    monkeypatch.setenv("PENDAMPING_LANGUAGE", "xx")
    assert main(["console"]) == 2
    assert "PENDAMPING_LANGUAGE" in capsys.readouterr().err


def test_unknown_commands_are_refused():
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
