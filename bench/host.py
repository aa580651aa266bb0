"""The machine a run happened on: CPU, memory, versions, and what an fsync costs on its disk."""

from __future__ import annotations

import os
import platform
import sqlite3
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from time import perf_counter_ns

from bench.timing import Summary, summarise

__all__ = ["Host", "describe_host"]


@dataclass(frozen=True)
class Host:
    cpu: str
    cpus: int
    memory_gib: float
    python: str
    sqlite: str
    libraries: str
    kernel: str
    disk: str
    fsync: Summary  # write 4 KiB and fsync it, in the directory the databases live in


def _first(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as source:
            for line in source:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _mount_of(directory: str) -> str:
    """Device and file system of the mount holding `directory`."""
    best = ("", "unknown device", "unknown fs")
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                device, point, fs_type = line.split()[:3]
                if (directory == point or directory.startswith(point.rstrip("/") + "/")) and len(point) >= len(best[0]):
                    best = (point, device, fs_type)
    except OSError:
        pass
    point, device, fs_type = best
    note = f"{device} ({fs_type}) mounted on {point or '?'}"
    if Path(device).name.startswith("vd"):
        note += ", virtio virtual disk"
    return note


def _fsync_cost(directory: str, count: int) -> Summary:
    samples: list[int] = []
    block = os.urandom(4096)
    with tempfile.NamedTemporaryFile(dir=directory, prefix="pendamping-fsync-") as probe:
        for _ in range(count):
            started = perf_counter_ns()
            probe.write(block)
            probe.flush()
            os.fsync(probe.fileno())
            samples.append(perf_counter_ns() - started)
    return summarise(samples)


def describe_host(fsync_probes: int) -> Host:
    directory = os.path.realpath(tempfile.gettempdir())
    memory_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    return Host(
        cpu=_first("/proc/cpuinfo", "model name"),
        cpus=len(os.sched_getaffinity(0)),
        memory_gib=int(memory_kib) / 1024**2 if memory_kib.isdigit() else 0.0,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        sqlite=sqlite3.sqlite_version,
        libraries=f"transitions {version('transitions')}, SQLAlchemy {version('SQLAlchemy')}",
        kernel=f"{platform.system()} {platform.release()}",
        disk=f"temporary directory {directory} on {_mount_of(directory)}",
        fsync=_fsync_cost(directory, fsync_probes),
    )
