"""The rings stay apart: the engine does no I/O, storage knows nothing of the bot, only the Telegram
adapter imports telegram."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IO_PACKAGES = {"telegram", "sqlalchemy", "storage", "alembic", "httpx", "requests", "aiohttp", "socket", "sqlite3", "psycopg"}
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("time", "monotonic")}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_engine_modules_import_no_io_package():
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & IO_PACKAGES)
        for path in (ROOT / "bot" / "engine").rglob("*.py")
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_engine_reads_no_clock():
    calls = []
    for path in (ROOT / "bot" / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                if (node.func.value.id, node.func.attr) in CLOCK_CALLS:
                    calls.append(f"{path.name}:{node.lineno}")
    assert calls == []


def test_importing_the_engine_loads_no_io_package():
    code = "import sys, bot.engine; print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))" % (IO_PACKAGES,)
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    assert loaded == ""


def test_storage_does_not_import_the_bot():
    offenders = [str(path) for path in (ROOT / "storage").rglob("*.py") if "bot" in imported_roots(path)]
    assert offenders == []


def test_only_the_telegram_adapter_imports_telegram():
    offenders = [
        str(path.relative_to(ROOT))
        for path in list((ROOT / "bot").rglob("*.py")) + list((ROOT / "storage").rglob("*.py"))
        if "telegram" in imported_roots(path) and "telegram" not in path.relative_to(ROOT / "bot").parts[:1]
    ]
    assert offenders == []
