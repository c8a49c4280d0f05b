"""Basic sign-in under attack and under a damaged users file: guesses are throttled before they
cost a hash, hashing is bounded, signed-in people are not slowed, bad lines lock nobody out."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

import httpx
import pytest
from werkzeug.security import generate_password_hash

import webapp.web.users
from webapp.web.users import HASH_CHECKS

from .conftest import app_on, task_page
from .test_access import basic

PAGE = "/"
ADA = basic("ada", "correct horse")
BOB = basic("bob", "battery staple")
GUESS = basic("ada", "guess")


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=task_page([]))


ADA_LINE = f"ada:{generate_password_hash('correct horse')}\n"
BOB_LINE = f"bob:{generate_password_hash('battery staple')}\n"


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    path.write_text(ADA_LINE + BOB_LINE)
    return path


@pytest.fixture
def hashes(monkeypatch):
    """Counts the password hashes the app computes."""
    computed = []
    real = webapp.web.users.check_password_hash

    def counting(stored, password):
        computed.append(password)
        return real(stored, password)

    monkeypatch.setattr(webapp.web.users, "check_password_hash", counting)
    return computed


@pytest.fixture
def signing_in(scripted, users_file):
    def build(**config):
        client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file), **config)
        return client

    return build


def get(client, headers, address="192.0.2.1"):
    return client.get(PAGE, headers=headers, environ_base={"REMOTE_ADDR": address})


def test_after_five_failures_an_address_is_paused_with_429_and_no_more_hashing(signing_in, hashes):
    client = signing_in()
    for attempt in range(5):
        assert get(client, basic("ada", f"guess {attempt}")).status_code == 401
    assert len(hashes) == 5
    refused = get(client, basic("bob", "another guess"))
    assert refused.status_code == 429
    assert 290 <= int(refused.headers["Retry-After"]) <= 300
    assert "Too many failed sign-ins" in refused.text
    assert "WWW-Authenticate" not in refused.headers
    # Not even the right password is hashed from there until the pause ends.
    assert get(client, ADA).status_code == 429
    assert len(hashes) == 5


def test_failures_on_one_name_from_many_addresses_pause_that_name_only(signing_in, hashes):
    client = signing_in()
    for number in range(5):
        assert get(client, GUESS, address=f"198.51.100.{number}").status_code == 401
    assert get(client, ADA, address="203.0.113.9").status_code == 429
    assert get(client, BOB, address="203.0.113.9").status_code == 200
    assert len(hashes) == 6


def test_ipv6_guessers_count_as_their_64_block(signing_in):
    client = signing_in()
    for number in range(5):
        assert (
            get(client, basic(f"user{number}", "x"), address=f"2001:db8::{number}").status_code
            == 401
        )
    assert get(client, BOB, address="2001:db8::ffff").status_code == 429
    assert get(client, BOB, address="2001:db8:1::1").status_code == 200


def test_a_trusted_proxy_names_the_guessing_client(signing_in):
    client = signing_in(WEBAPP_TRUSTED_PROXIES="10.0.0.1")

    def via_proxy(credentials, client_address):
        headers = {**credentials, "X-Forwarded-For": f"spoofed, {client_address}"}
        return client.get(PAGE, headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})

    for number in range(5):
        assert via_proxy(basic(f"x{number}", "guess"), "192.0.2.50").status_code == 401
    assert via_proxy(ADA, "192.0.2.50").status_code == 429
    assert via_proxy(ADA, "192.0.2.51").status_code == 200
    # From anyone else, X-Forwarded-For is ignored: the peer itself is counted.
    for number in range(5):
        assert get(client, basic(f"y{number}", "guess"), address="192.0.2.60").status_code == 401
    spoofed = {**BOB, "X-Forwarded-For": "192.0.2.61"}
    assert get(client, spoofed, address="192.0.2.60").status_code == 429


def test_the_pause_ends_once_the_window_has_passed(signing_in, clock, hashes):
    client = signing_in()
    for _ in range(5):
        get(client, GUESS)
    assert get(client, ADA).status_code == 429
    clock.advance(299)
    assert get(client, ADA).status_code == 429
    clock.advance(2)
    assert get(client, ADA).status_code == 200
    assert len(hashes) == 6


def test_the_failure_limit_and_window_are_settings(signing_in, clock):
    client = signing_in(WEBAPP_SIGNIN_FAILURES="2", WEBAPP_SIGNIN_WINDOW="60")
    get(client, GUESS)
    get(client, GUESS)
    refused = get(client, ADA)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    clock.advance(61)
    assert get(client, ADA).status_code == 200


def test_a_signed_in_person_is_let_in_without_hashing_while_guessers_are_paused(signing_in, hashes):
    client = signing_in()
    assert get(client, ADA, address="192.0.2.7").status_code == 200  # verified, remembered
    for number in range(6):  # guessers pause ada's name and the address ada shares with one
        get(client, GUESS, address=f"198.51.100.{number}")
        get(client, basic("someone", "x"), address="192.0.2.7")
    hashed = len(hashes)
    for _ in range(3):
        assert get(client, ADA, address="192.0.2.7").status_code == 200
        assert get(client, ADA, address="203.0.113.1").status_code == 200
    assert len(hashes) == hashed


def test_a_refused_htmx_request_while_paused_gets_an_error_row(signing_in):
    client = signing_in()
    for _ in range(5):
        get(client, GUESS)
    response = client.get(
        PAGE, headers={**ADA, "HX-Request": "true"}, environ_base={"REMOTE_ADDR": "192.0.2.1"}
    )
    assert response.status_code == 429
    assert response.text.lstrip().startswith('<tr class="error-row">')


def test_hash_checks_are_capped_and_the_excess_told_to_come_back(signing_in, monkeypatch):
    """While HASH_CHECKS hashes run, a further sign-in waits briefly, then gets a 503 with
    Retry-After; someone already signed in gets in meanwhile."""
    client = signing_in(signin_hash_wait=0.2)
    assert get(client, BOB).status_code == 200  # bob is remembered from here on
    release = threading.Event()
    started = threading.Semaphore(0)
    real = webapp.web.users.check_password_hash

    def slow_hash(stored, password):
        started.release()
        release.wait(10)
        return real(stored, password)

    monkeypatch.setattr(webapp.web.users, "check_password_hash", slow_hash)
    answers = []
    holders = [
        threading.Thread(target=lambda n=n: answers.append(get(client, ADA, f"192.0.2.{n}")))
        for n in range(HASH_CHECKS)
    ]
    for holder in holders:
        holder.start()
    try:
        for _ in holders:
            assert started.acquire(timeout=10)
        busy = get(client, basic("ada", "another"), address="192.0.2.99")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
        assert "Too many sign-ins at once" in busy.text
        assert get(client, BOB).status_code == 200
    finally:
        release.set()
        for holder in holders:
            holder.join(10)
    assert [answer.status_code for answer in answers] == [200] * HASH_CHECKS


def test_under_gevent_a_hash_leaves_the_event_loop_free_for_other_requests():
    """With gevent's monkey-patching (the production worker), CPU-bound work handed to
    off_the_event_loop runs on a native thread: other greenlets keep running meanwhile. The
    work here ends only once another greenlet has run (a native lock it releases)."""
    program = """
from gevent import monkey
monkey.patch_all()
import gevent
from webapp.web.users import off_the_event_loop
other_ran = monkey.get_original("_thread", "allocate_lock")()
other_ran.acquire()
gevent.spawn(other_ran.release)  # runs only if the event loop is free
print(off_the_event_loop(other_ran.acquire, True, 10))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


# The users file, damaged


def test_a_line_with_a_bad_byte_is_skipped_logged_by_number_and_the_others_sign_in(
    scripted, tmp_path, caplog
):
    path = tmp_path / "users"
    path.write_bytes(ADA_LINE.encode() + b"cy:\xff\xfesecret-hash-bytes\n" + BOB_LINE.encode())
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(path))
    with caplog.at_level(logging.WARNING, logger="webapp.web.users"):
        assert get(client, ADA).status_code == 200
        assert get(client, BOB).status_code == 200
    assert f"users file {path}, line 2: not name:hash, skipped" in caplog.text
    assert "secret-hash-bytes" not in caplog.text and "cy:" not in caplog.text


@pytest.mark.parametrize(
    "cut_line",
    [
        "bob:scrypt:327",
        "bob:scrypt:32768:8:1$",
        BOB_LINE.strip()[:-7],
        "bob:pbkdf2:sha256:600000$salt$abc",
        "bob:md5$salt$" + "0" * 32,
        "bob",
    ],
    ids=["in-method", "before-salt", "in-digest", "short-pbkdf2", "unknown-method", "name-only"],
)
def test_a_line_cut_short_by_a_write_in_progress_is_skipped_never_a_500(
    scripted, tmp_path, caplog, cut_line
):
    path = tmp_path / "users"
    path.write_text(ADA_LINE + cut_line)
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(path))
    with caplog.at_level(logging.WARNING, logger="webapp.web.users"):
        assert get(client, BOB).status_code == 401
        assert get(client, ADA).status_code == 200
    assert "line 2: not name:hash, skipped" in caplog.text
    assert cut_line.partition(":")[2] not in caplog.text or cut_line == "bob"


def test_a_file_emptied_mid_write_keeps_the_last_good_table(scripted, users_file, caplog):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert get(client, BOB).status_code == 200
    users_file.write_text("")
    with caplog.at_level(logging.WARNING, logger="webapp.web.users"):
        assert get(client, ADA).status_code == 200
        assert get(client, ADA).status_code == 200
    assert caplog.text.count("has no usable line: keeping the users read before") == 1
    users_file.write_text(BOB_LINE)  # the write completes: ada is gone now
    assert get(client, basic("ada", "correct horse"), address="192.0.2.2").status_code == 401


def test_a_file_that_cannot_be_read_keeps_the_last_good_table(scripted, users_file, caplog):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert get(client, BOB).status_code == 200
    users_file.unlink()
    users_file.mkdir()  # exists, cannot be read as a file
    with caplog.at_level(logging.WARNING, logger="webapp.web.users"):
        assert get(client, ADA).status_code == 200
    assert f"users file {users_file} cannot be read" in caplog.text


def test_deleting_the_users_file_lets_nobody_in(scripted, users_file):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert get(client, BOB).status_code == 200
    users_file.unlink()
    assert get(client, BOB).status_code == 401
    assert get(client, ADA).status_code == 401


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("WEBAPP_SIGNIN_FAILURES", "0", "WEBAPP_SIGNIN_FAILURES must be a whole number"),
        ("WEBAPP_SIGNIN_FAILURES", "five", "WEBAPP_SIGNIN_FAILURES must be a whole number"),
        ("WEBAPP_SIGNIN_WINDOW", "0.5", "WEBAPP_SIGNIN_WINDOW must be at least 1 second"),
    ],
)
def test_unusable_throttle_settings_stop_the_app_at_start_up(setting, value, message):
    from webapp import create_app
    from webapp.common.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        create_app({"TESTING": True, setting: value})


SECRET = {"WEBAPP_SECRET_KEY": "one-key-for-every-worker-0123456789abcdef"}


@pytest.fixture(params=["data file", "redis"])
def two_workers(request, scripted, users_file):
    """Two app instances that share what a deployment's workers share: the SQLite file of one
    data folder, or the real Redis of the shared cache."""
    config = {"WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": str(users_file), **SECRET}
    if request.param == "redis":
        config["WEBAPP_CACHE_URL"] = request.getfixturevalue("redis_url")
    return [scripted(ok, **config)[0] for _ in range(2)]


def test_failures_count_once_across_workers(two_workers, hashes):
    """Guesses answered by either worker add up: the limit holds for the deployment, not for
    each process (with 2 workers, 12 guesses were 6 per process, each under its own count)."""
    first, second = two_workers
    for attempt in range(5):
        worker = (first, second)[attempt % 2]
        assert get(worker, basic("ada", f"guess {attempt}")).status_code == 401
    assert get(first, basic("bob", "another")).status_code == 429
    assert get(second, basic("bob", "another")).status_code == 429
    assert len(hashes) == 5


def test_a_person_signed_in_seconds_before_passes_every_worker_while_guessers_are_paused(
    two_workers, hashes
):
    """After 12 wrong guesses from their address, a person who had signed in on one worker got
    429 200 429 200 429 200; their verified password now passes on every worker, unhashed."""
    first, second = two_workers
    assert get(first, ADA).status_code == 200
    for attempt in range(12):
        get((first, second)[attempt % 2], basic("ada", f"guess {attempt}"))
    assert get(second, BOB).status_code == 429  # the address is paused for anyone unverified
    hashed = len(hashes)
    answers = [get(worker, ADA).status_code for worker in (second, first) * 3]
    assert answers == [200] * 6
    assert len(hashes) == hashed


def test_a_changed_password_is_no_longer_vouched_for(scripted, users_file, clock):
    config = {"WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": str(users_file), **SECRET}
    client, _ = scripted(ok, **config)
    assert get(client, ADA).status_code == 200
    users_file.write_text(f"ada:{generate_password_hash('new password')}\n" + BOB_LINE)
    assert get(client, ADA).status_code == 401
    assert get(client, basic("ada", "new password")).status_code == 200


def test_a_verified_password_in_use_stays_vouched_for_past_five_minutes(signing_in, clock, hashes):
    client = signing_in()
    assert get(client, ADA).status_code == 200
    for _ in range(4):
        clock.advance(200)  # each use within five minutes of the last
        assert get(client, ADA).status_code == 200
    assert len(hashes) == 1
    clock.advance(301)
    assert get(client, ADA).status_code == 200
    assert len(hashes) == 2


def test_failures_recorded_by_another_process_pause_this_one(users_file, data_dir):
    """A second worker process writes into the same data file; this process reads its count."""
    script = (
        "import base64, sys\n"
        "from webapp import create_app\n"
        "app = create_app({'TESTING': True, 'WEBAPP_AUTH': 'basic',\n"
        "                  'WEBAPP_USERS_FILE': sys.argv[1]})\n"
        "client = app.test_client()\n"
        "for n in range(5):\n"
        "    token = base64.b64encode(f'ada:guess {n}'.encode()).decode()\n"
        "    status = client.get('/', headers={'Authorization': 'Basic ' + token},\n"
        "                        environ_base={'REMOTE_ADDR': '192.0.2.1'}).status_code\n"
        "    assert status == 401, status\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(users_file)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (data_dir / "webapp.sqlite3").exists()
    # Both on the real clock, as two workers are.
    app = app_on(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert get(app.test_client(), BOB).status_code == 429


def test_a_forwarded_request_without_trusted_proxies_is_warned_of_once(signing_in, caplog):
    client = signing_in()
    with caplog.at_level(logging.WARNING, logger="webapp.web.auth"):
        for _ in range(3):
            get(client, {**ADA, "X-Forwarded-For": "203.0.113.5"}, address="127.0.0.1")
    warnings = [r for r in caplog.records if "WEBAPP_TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1
