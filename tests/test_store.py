"""The store every worker shares: a SQLite file in the data folder (WAL mode, a schema version,
forward migrations) or Redis; a file it cannot read stops the app, naming it, and is kept."""

from __future__ import annotations

import sqlite3

import pytest

from webapp import create_app
from webapp.common.config import Settings
from webapp.store import (
    FILE_NAME,
    MIGRATIONS,
    RedisEvents,
    SqliteEvents,
    StoreError,
    data_dir,
)

from .conftest import TOKEN


def basic_app(users_file, **config):
    return create_app(
        {
            "TESTING": True,
            "BLAXEL_API_KEY": TOKEN,
            "WEBAPP_AUTH": "basic",
            "WEBAPP_USERS_FILE": str(users_file),
            **config,
        }
    )


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    path.write_text("")
    return path


def test_basic_auth_keeps_its_counts_in_a_wal_file_in_the_data_folder(users_file, data_dir):
    basic_app(users_file)
    db = sqlite3.connect(data_dir / FILE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_no_data_file_is_made_without_basic_auth(data_dir):
    create_app({"TESTING": True, "BLAXEL_API_KEY": TOKEN})
    assert list(data_dir.iterdir()) == []


def test_the_data_folder_is_a_setting_made_when_missing(users_file, tmp_path):
    folder = tmp_path / "new" / "folder"
    basic_app(users_file, WEBAPP_DATA_DIR=str(folder))
    assert (folder / FILE_NAME).is_file()


def test_the_default_data_folder_is_the_users_own(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_dir(Settings()) == tmp_path / "blaxel-jobs"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir(Settings()) == tmp_path / "home" / ".local" / "share" / "blaxel-jobs"


def test_a_file_that_is_no_database_stops_the_app_naming_it_and_is_kept(users_file, data_dir):
    damaged = data_dir / FILE_NAME
    damaged.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=f"The data file {damaged} cannot be read"):
        basic_app(users_file)
    assert damaged.read_bytes() == b"not a database at all" * 100


def test_a_file_from_a_newer_version_stops_the_app_and_is_kept(users_file, data_dir):
    newer = sqlite3.connect(data_dir / FILE_NAME)
    newer.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    newer.close()
    with pytest.raises(StoreError, match="written by a newer version of this app"):
        basic_app(users_file)
    assert sqlite3.connect(data_dir / FILE_NAME).execute("PRAGMA user_version").fetchone() == (
        len(MIGRATIONS) + 1,
    )


def test_migrations_run_once_whoever_opens_the_file_first(tmp_path):
    path = tmp_path / FILE_NAME
    one, other = SqliteEvents(path), SqliteEvents(path)
    one.add("key", 100.0, 60)
    assert other.since("key", 0) == [100.0]


@pytest.fixture(params=["sqlite", "redis"])
def events(request, tmp_path):
    if request.param == "redis":
        store = RedisEvents(request.getfixturevalue("redis_url"))
    else:
        store = SqliteEvents(tmp_path / FILE_NAME)
    yield store
    store.close()


def test_events_are_kept_for_their_time_and_listed_oldest_first(events):
    events.add("guesses", 1000.0, 60)
    events.add("guesses", 1030.0, 60)
    events.add("other", 1030.0, 60)
    assert events.since("guesses", 1000.0) == [1000.0, 1030.0]
    assert events.since("guesses", 1001.0) == [1030.0]
    events.add("guesses", 1070.0, 60)  # the first has expired: it is gone
    assert events.since("guesses", 0) == [1030.0, 1070.0]
    events.drop("guesses")
    assert events.since("guesses", 0) == []
    assert events.since("other", 0) == [1030.0]
