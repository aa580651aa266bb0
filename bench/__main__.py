"""`python -m bench [--quick] [--write]`: run every benchmark once, print the tables, optionally the docs."""

from __future__ import annotations

import argparse
import gc
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter, perf_counter_ns

from bench.durable import measure_durable
from bench.engine import EngineResult, measure_engine
from bench.flows import chain_flow, loop_flow, protocol_flow
from bench.host import describe_host
from bench.memory import measure_memory
from bench.report import Results, markdown_report, text_report
from bench.escalation import measure_escalation
from bench.webhook import WebhookPlan, measure_webhook

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Plan:
    """Iteration counts of one mode."""

    engine_rounds: int
    shared_per_round: int
    per_step_per_round: int
    durable_cases: int
    durable_steps: int
    durable_warmup: int
    memory_small: int
    memory_large: int
    memory_steps: int
    fsync_probes: int
    webhook: WebhookPlan
    escalations: int


FULL = Plan(
    20, 500, 25, 200, 4000, 300, 100, 10_000, 2000, 200,
    WebhookPlan(
        # 300/s three times over (in turns with the echo bot): the target is judged on the median p99.
        closed=((1, 200), (10, 1000), (100, 2000)), open_chats=100, open_rates=(300.0, 300.0, 300.0, 30.0), open_seconds=5.0,
        warmup_rounds=3, shipped_seconds=5.0, shipped_open_seconds=1.0,
    ),
    20,
)
QUICK = Plan(
    5, 300, 10, 50, 1000, 100, 100, 2000, 500, 50,
    WebhookPlan(
        closed=((1, 20), (10, 100), (100, 200)), open_chats=100, open_rates=(300.0, 30.0), open_seconds=1.0,
        warmup_rounds=1, shipped_seconds=2.0, shipped_open_seconds=0.5,
    ),
    5,
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(plan: Plan, mode: str) -> Results:
    started, clock = datetime.now(timezone.utc), perf_counter()
    _say("host: fsync probe")
    host = describe_host(plan.fsync_probes)
    flows = [chain_flow(40)]
    protocol, problem = protocol_flow()
    skipped = (f"protocol flow {problem}",) if protocol is None else ()
    if protocol is not None:
        flows.append(protocol)
    engine: list[EngineResult] = []
    for flow in flows:
        _say(f"engine: {flow.id}")
        engine.append(measure_engine(flow, plan.engine_rounds, plan.shared_per_round, plan.per_step_per_round))
    _say("durable: CaseService.act on SQLite")
    durable = measure_durable(loop_flow(), plan.durable_cases, plan.durable_steps, plan.durable_warmup)
    _say(f"memory: {plan.memory_small} then {plan.memory_large} stored open cases")
    memory = measure_memory(loop_flow(), plan.memory_small, plan.memory_large, plan.memory_steps)
    full_gc_ms = _full_gc_ms()
    webhook = measure_webhook(plan.webhook)
    _say(f"escalation: {plan.escalations} P0 alerts, each left to re-escalate")
    escalation = measure_escalation(plan.escalations)
    return Results(mode, started, perf_counter() - clock, host, tuple(engine), skipped, durable, memory, full_gc_ms, webhook, escalation)


def _full_gc_ms() -> float:
    gc.collect()
    begun = perf_counter_ns()
    gc.collect()
    return (perf_counter_ns() - begun) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run of about 2 minutes")
    parser.add_argument("--write", action="store_true", help=f"also rewrite {DOCS_PATH.relative_to(DOCS_PATH.parent.parent)}")
    args = parser.parse_args(argv)
    if args.quick and args.write:
        parser.error("--write records a full run; drop --quick")
    results = run(QUICK if args.quick else FULL, "quick" if args.quick else "full")
    print(text_report(results), end="")
    if args.write:
        DOCS_PATH.write_text(markdown_report(results), encoding="utf-8")
        print(f"wrote {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
