from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///pendamping.db"
    assert settings.language == "id" and settings.start_flow == "protocol"
    assert settings.timezone == "Asia/Jakarta" and settings.zone.key == "Asia/Jakarta"


def test_the_time_zone_can_be_one_of_indonesias_three():
    assert Settings.from_env({"PENDAMPING_TIMEZONE": "Asia/Makassar"}).zone.key == "Asia/Makassar"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PENDAMPING_LANGUAGE": "fr"}, "PENDAMPING_LANGUAGE"),
        ({"DATABASE_URL": "pendamping.db"}, "DATABASE_URL"),
        ({"PENDAMPING_FLOWS_DIR": "/nonexistent/flows"}, "PENDAMPING_FLOWS_DIR"),
        ({"PENDAMPING_TIMEZONE": "WIB"}, "PENDAMPING_TIMEZONE"),
        ({"PENDAMPING_TIMEZONE": "../../etc/passwd"}, "PENDAMPING_TIMEZONE"),
    ],
)
def test_a_malformed_setting_is_named(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


from bot.settings import TelegramSettings  # noqa: E402

TOKEN = "123456789:" + "A" * 35


def test_telegram_settings_need_a_well_formed_token():
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN is not set"):
        TelegramSettings.from_env({})
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN does not look like a bot token"):
        TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "not-a-token"})
    settings = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings.bot_id == "123456789" and settings.webhook_url is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "WEBHOOK_URL"),
        ({"WEBHOOK_URL": "https://example.org/telegram"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "https://example.org/telegram", "WEBHOOK_SECRET": "short"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_URL": "https://x.org/t", "WEBHOOK_SECRET": "s" * 20, "WEBHOOK_PORT": "99999"}, "WEBHOOK_PORT"),
        ({"PENDAMPING_INVITE_HOURS": "0"}, "PENDAMPING_INVITE_HOURS"),
        ({"TELEGRAM_API_BASE_URL": "api.telegram.org"}, "TELEGRAM_API_BASE_URL"),
    ],
)
def test_webhook_settings_are_named_when_wrong(env, name):
    with pytest.raises(SettingsError, match=name):
        TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, **env}, webhook=True)


def test_pendamping_run_without_a_token_stops_with_its_name(monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_the_supervisors_group_must_be_a_group_id():
    assert TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "SUPERVISOR_GROUP_CHAT_ID": "-100123"}).supervisor_group == -100123
    with pytest.raises(SettingsError, match="SUPERVISOR_GROUP_CHAT_ID"):
        TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, "SUPERVISOR_GROUP_CHAT_ID": "12345"})


def test_escalation_deadlines_come_from_the_environment():
    from datetime import timedelta

    settings = Settings.from_env({"ESCALATION_DEADLINE_P0_SECONDS": "30"})
    assert settings.deadlines.p0 == timedelta(seconds=30) and settings.deadlines.p1 == timedelta(minutes=10)
    with pytest.raises(SettingsError, match="ESCALATION_DEADLINE_P1_SECONDS"):
        Settings.from_env({"ESCALATION_DEADLINE_P1_SECONDS": "soon"})
