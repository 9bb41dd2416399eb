"""``allocator keys`` and the settings: keys made on the command line work in the app, the
token is printed once and only its hash is stored; settings come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from allocator_api.app import create_app
from allocator_api.cli import main
from allocator_api.models import ApiKeyRow
from allocator_api.security import hash_token
from allocator_api.settings import Settings
from tests.api.conftest import settings_for


def test_keys_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/keys.sqlite"
    assert main(["keys", "create", "--db", url, "--tenant", "acme", "--role", "admin"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("alk_") and len(token) > 40

    with TestClient(create_app(settings_for(url, run_workers=False))) as client:
        h = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/keys", headers=h).status_code == 200
        with client.app.state.db.sessions() as s:  # type: ignore[attr-defined]
            row = s.scalars(select(ApiKeyRow)).one()
        assert row.key_hash == hash_token(token) and token not in (row.prefix + row.key_hash)

        assert main(["keys", "list", "--db", url, "--tenant", "acme"]) == 0
        listed = capsys.readouterr().out
        assert row.id in listed and "active" in listed and token not in listed

        assert main(["keys", "revoke", "--db", url, "--tenant", "other", row.id]) == 2
        assert client.get("/v1/keys", headers=h).status_code == 200
        assert main(["keys", "revoke", "--db", url, "--tenant", "acme", row.id]) == 0
        r = client.get("/v1/keys", headers=h)
        assert r.status_code == 401 and r.json()["error"]["message"] == "unknown or revoked API key"


def test_keys_create_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/keys.sqlite"
    assert main(["keys", "create", "--db", url, "--tenant", "a b", "--role", "admin"]) == 2
    assert "not a tenant name" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["keys", "create", "--db", url, "--tenant", "acme", "--role", "owner"])
    assert exc.value.code == 2


def test_settings_from_environment() -> None:
    s = Settings.from_env(
        {
            "ALLOCATOR_DATABASE_URL": "postgresql://u@db:5432/app",
            "ALLOCATOR_MAX_TASKS": "10",
            "ALLOCATOR_CORS_ORIGINS": "https://a.example, https://b.example",
            "ALLOCATOR_RUN_WORKERS": "false",
            "UNRELATED": "x",
        },
        max_people=3,
        max_tasks=None,  # None: not an override
    )
    assert s.database_url == "postgresql+psycopg://u@db:5432/app"
    assert (s.max_tasks, s.max_people, s.run_workers) == (10, 3, False)
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert Settings.from_env({}).database_url == "sqlite:///allocator.sqlite"
    with pytest.raises(ValueError):
        Settings.from_env({"ALLOCATOR_MAX_TASKS": "-1"})
