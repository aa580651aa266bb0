"""`pendamping flows check`: loads every flow and reports hard errors (stop) and soft issues (warn),
each with file, line and node.

Errors come from the loader. Warnings: unreachable nodes, dead ends, a P0/P1 flag with a path to an
end without escalation, texts over Telegram's 4096 characters (bot/engine/analysis.py); buttons
whose callback data could pass 64 bytes (buttons.py); referral needs the directory cannot serve
(referrals.py); texts new, changed or missing in a language (translations.py); and nodes removed
while cases in progress still wait on them, when a database is at hand (sessions.py).
"""

from bot.checks.report import CheckReport, CheckWarning, TranslationCount
from bot.checks.run import check_flows, check_paths, run_check
from bot.checks.sessions import DatabaseSource, removed_node_findings
from bot.checks.translations import TextState, catalog_findings, load_catalogs, text_state, translation_counts

__all__ = [
    "CheckReport",
    "CheckWarning",
    "DatabaseSource",
    "TextState",
    "TranslationCount",
    "catalog_findings",
    "check_flows",
    "check_paths",
    "load_catalogs",
    "removed_node_findings",
    "run_check",
    "text_state",
    "translation_counts",
]
