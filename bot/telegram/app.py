"""Builds the python-telegram-bot Application around the case service, and runs it."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import signal
from datetime import timedelta
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, TypeHandler
from telegram.request import BaseRequest

from bot.cases import CaseService, utcnow
from bot.directory import load_directory
from bot.escalation import EscalationDesk
from bot.reminders import FollowUpReminders
from bot.i18n import N_, SUPPORTED_LANGUAGES, translator
from bot.lexicon import load_lexicon
from bot.ladder import Ladder
from bot.library import FlowLibrary
from bot.reloading import ReloadStatus
from bot.settings import Settings, TelegramSettings
from bot.telegram.delivery import TelegramDelivery, recipient_for
from bot.telegram.keyboards import ButtonSigner
from bot.telegram.membership import Membership
from bot.telegram.router import TelegramFront
from bot.telegram.serve import install_stop_signals, poll_updates, serve_webhook
from bot.telegram.steps import ProcessSteps, Steps, ThreadSteps
from bot.telegram.texts import COMMANDS
from bot.telegram.transport import AiohttpRequest
from storage import Database, supervisors_for_tier

__all__ = ["build_application", "build_service", "run", "serve"]

LOGGER = logging.getLogger(__name__)


def build_service(settings: Settings, telegram: TelegramSettings) -> CaseService:
    """The case service on its own database: flows, lexicon, directory and the escalation ladder.
    The step process (bot.telegram.step_worker) builds its own with this same function."""
    database = Database(settings.database_url)
    library = FlowLibrary.from_directory(settings.flows_dir, screener=load_lexicon())
    group = [recipient_for("group", telegram.supervisor_group)] if telegram.supervisor_group is not None else []

    def supervisors(session: Any, tier: int) -> list[str]:
        people = [recipient_for("supervisor", member.telegram_user_id) for member in supervisors_for_tier(session, tier)]
        # The group sees the first page of every alert; a tier with nobody in it falls to the next.
        return people + group if people and tier == 0 else people

    return CaseService(
        database, library, start_flow=settings.start_flow, supervisor_language=settings.language,
        directory=load_directory(), ladder=Ladder(supervisors, settings.deadlines), clock=utcnow, zone=settings.zone,
    )


def build_application(
    settings: Settings,
    telegram: TelegramSettings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    global_rate: float = 30.0,
    step_process: bool = False,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Everything wired: database, flows, lexicon, directory, delivery and the update router. With
    `step_process`, steps run in a child process (bot.telegram.steps), as `run` has them."""
    service = build_service(settings, telegram)
    database = service.database
    builder = (
        ApplicationBuilder()
        .token(telegram.token)
        .base_url(telegram.api_base_url)
        .concurrent_updates(True)
        # Telegram's global limit; 429s are not retried here: the outbox retries them in order.
        .rate_limiter(AIORateLimiter(overall_max_rate=global_rate, max_retries=0))
    )
    if request is None:
        # aiohttp instead of python-telegram-bot's httpx default: see bot.telegram.transport.
        request, get_updates_request = AiohttpRequest(), get_updates_request or AiohttpRequest(connection_pool_size=1)
    builder = builder.request(request).get_updates_request(get_updates_request or request)
    application = builder.build()
    # Buttons are signed with a key only this deployment has, derived from its bot token.
    signer = ButtonSigner(hashlib.sha256(b"pendamping-buttons:" + telegram.token.encode()).digest())
    supervisors_language = translator(settings.language)
    delivery = TelegramDelivery(
        database, application.bot, signer, utcnow,
        alert_labels=(supervisors_language.text(N_("Take case")), supervisors_language.text(N_("View summary"))),
    )
    desk = EscalationDesk(service)
    steps: Steps = ProcessSteps(service, settings, telegram, delivery) if step_process else ThreadSteps(service)
    front = TelegramFront(
        service, Membership(database, timedelta(hours=telegram.invite_hours)), delivery, signer, settings.language, utcnow, desk, steps
    )
    application.add_handler(TypeHandler(Update, front.on_update))
    reminders = FollowUpReminders(service)
    application.bot_data.update(
        service=service, delivery=delivery, front=front, database=database, desk=desk, reminders=reminders, steps=steps
    )
    application.post_init = _started
    application.post_shutdown = _stopped
    return application


async def _started(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    service: CaseService = application.bot_data["service"]
    delivery: TelegramDelivery = application.bot_data["delivery"]
    front: TelegramFront = application.bot_data["front"]
    await asyncio.to_thread(service.register_flows)
    await application.bot_data["steps"].start()
    front.bot_username = application.bot.username
    for language in SUPPORTED_LANGUAGES:
        commands = [BotCommand(name, translator(language).text(text)) for name, text in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=language)
    default = [BotCommand(name, translator(front.default_language).text(text)) for name, text in COMMANDS]
    await application.bot.set_my_commands(default)
    application.bot_data["delivery_task"] = asyncio.create_task(delivery.run())
    application.bot_data["sweeper_task"] = asyncio.create_task(
        _sweep(application.bot_data["desk"], application.bot_data["reminders"])
    )
    LOGGER.info("Pendamping is running as @%s", application.bot.username)


async def _sweep(desk: EscalationDesk, reminders: FollowUpReminders, every: float = 1.0) -> None:
    """Fire escalation deadlines and due follow-ups from the database once a second; a restart loses none.
    Once an hour, old delivered messages and update ids are purged so the outbox stays small."""
    sweeps = 0
    while True:
        try:
            # One worker-thread hop a second for both: each is one indexed query when nothing is due.
            # What they queue is handed to the delivery as their transactions commit.
            await asyncio.to_thread(lambda: desk.sweep() + reminders.sweep())
            sweeps += 1
            if sweeps % 3600 == 1:
                await asyncio.to_thread(desk.purge)
        except Exception:  # noqa: BLE001 - the sweeper must outlive a database hiccup
            LOGGER.exception("escalation sweep failed; retrying")
        await asyncio.sleep(every)


async def _stopped(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    sweeper = application.bot_data.get("sweeper_task")
    if sweeper is not None:
        sweeper.cancel()
    await application.bot_data["steps"].stop()
    delivery: TelegramDelivery = application.bot_data["delivery"]
    delivery.stop()
    task = application.bot_data.get("delivery_task")
    if task is not None:
        await task
    application.bot_data["database"].dispose()


def _install_reload_signal(steps: Steps) -> None:
    """SIGHUP reloads the flows directory, as a supervisor's /reload does, without a restart."""
    if not hasattr(signal, "SIGHUP"):
        return  # Windows has none; /reload still works there
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks

    def on_hangup() -> None:
        task = loop.create_task(_reload_flows(steps))
        running.add(task)
        task.add_done_callback(running.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)


async def _reload_flows(steps: Steps) -> None:
    """Off the event loop: reading, checking and storing the flows must not hold up any chat."""
    outcome = await steps.reload()
    LOGGER.log(logging.WARNING if outcome.status is ReloadStatus.REFUSED else logging.INFO, "SIGHUP: %s", outcome.summary)


def configure_logging() -> None:
    """INFO for the bot's own records; libraries that log per request or per step only warn.

    httpx logs every request URL, bot token included; tornado every webhook POST; transitions
    every state change and callback of every step. At hundreds of updates a second those lines
    cost more CPU than the step itself, and they say nothing the event log does not."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "tornado.access", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(settings: Settings, telegram: TelegramSettings, *, webhook: bool) -> None:
    asyncio.run(serve(build_application(settings, telegram, step_process=True), telegram, webhook=webhook))


async def serve(application: Application[Any, Any, Any, Any, Any, Any], telegram: TelegramSettings, *, webhook: bool) -> None:
    """Run until SIGINT or SIGTERM; SIGHUP reloads the flows. Updates go straight to the router and
    are acknowledged only once handled (see bot.telegram.serve); python-telegram-bot provides the
    bot, its requests and limits."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    _install_reload_signal(application.bot_data["steps"])
    front: TelegramFront = application.bot_data["front"]
    async with application:
        await _started(application)
        # What exists now (flows, machines, lexicon, modules) lives as long as the process. Frozen,
        # the collector stops walking it on every full collection: those pauses fell from ~50 ms
        # to ~3 ms under load, and every update waiting behind one waited that long.
        gc.collect()
        gc.freeze()
        try:
            if webhook:
                await serve_webhook(front, application.bot, telegram, stop)
            else:
                await poll_updates(front, application.bot, stop)
        finally:
            await _stopped(application)
