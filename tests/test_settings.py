from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///pendamping.db"
    assert settings.language == "id" and settings.start_flow == "protocol"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PENDAMPING_LANGUAGE": "fr"}, "PENDAMPING_LANGUAGE"),
        ({"DATABASE_URL": "pendamping.db"}, "DATABASE_URL"),
        ({"PENDAMPING_FLOWS_DIR": "/nonexistent/flows"}, "PENDAMPING_FLOWS_DIR"),
    ],
)
def test_a_malformed_setting_is_named(env, name):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)
