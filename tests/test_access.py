"""Access control (none, basic, proxy), the add-user command, /healthz and /readyz."""

from __future__ import annotations

import base64

import httpx
import pytest
from werkzeug.security import generate_password_hash

from webapp import create_app
from webapp.common.config import ConfigError

from .conftest import task_page

PAGE = "/"


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=task_page([]))


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    path.write_text(
        "# name:hash\n"
        f"ada:{generate_password_hash('correct horse')}\n"
        f"bob@example.com:{generate_password_hash('battery staple')}\n"
    )
    return path


def test_without_auth_anyone_reads_and_no_identity_is_shown(scripted):
    client, _ = scripted(ok)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert 'class="identity"' not in response.text


def test_basic_auth_refuses_without_credentials_and_asks_for_them(scripted, users_file):
    client, upstream = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    response = client.get(PAGE)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Blaxel jobs", charset="UTF-8"'
    assert "Sign in to see Blaxel jobs" in response.text
    assert upstream.requests == []


@pytest.mark.parametrize(
    "credentials",
    [
        basic("ada", "wrong"),
        basic("nobody", "correct horse"),
        basic("ada", ""),
        {"Authorization": "Bearer x"},
    ],
    ids=["wrong-password", "unknown-user", "empty-password", "not-basic"],
)
def test_basic_auth_refuses_wrong_credentials(scripted, users_file, credentials):
    client, upstream = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert client.get(PAGE, headers=credentials).status_code == 401
    assert upstream.requests == []


def test_basic_auth_lets_a_user_in_and_shows_who_is_signed_in(scripted, users_file):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    response = client.get(PAGE, headers=basic("bob@example.com", "battery staple"))
    assert response.status_code == 200
    assert '<span class="identity" title="Signed in as">bob@example.com</span>' in response.text


def test_a_refused_htmx_request_gets_an_error_row(scripted, users_file):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    response = client.get(PAGE, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.text.lstrip().startswith('<tr class="error-row">')


def test_users_added_to_the_file_can_sign_in_without_a_restart(scripted, users_file):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert client.get(PAGE, headers=basic("cy", "new password")).status_code == 401
    with users_file.open("a") as out:
        out.write(f"cy:{generate_password_hash('new password')}\n")
    assert client.get(PAGE, headers=basic("cy", "new password")).status_code == 200


def test_a_removed_user_is_refused_at_once(scripted, users_file):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(users_file))
    assert client.get(PAGE, headers=basic("ada", "correct horse")).status_code == 200
    users_file.write_text(
        "\n".join(
            line for line in users_file.read_text().splitlines() if not line.startswith("ada:")
        )
    )
    assert client.get(PAGE, headers=basic("ada", "correct horse")).status_code == 401


def test_a_missing_users_file_lets_nobody_in(scripted, tmp_path):
    client, _ = scripted(ok, WEBAPP_AUTH="basic", WEBAPP_USERS_FILE=str(tmp_path / "absent"))
    assert client.get(PAGE, headers=basic("ada", "correct horse")).status_code == 401


def proxied(scripted, remote_addr="127.0.0.1", **config):
    client, upstream = scripted(
        ok, WEBAPP_AUTH="proxy", WEBAPP_TRUSTED_PROXIES="127.0.0.1, 10.1.0.0/16", **config
    )
    client.environ_base["REMOTE_ADDR"] = remote_addr
    return client, upstream


@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "10.1.200.3"])
def test_proxy_identity_is_believed_from_a_trusted_proxy(scripted, remote_addr):
    client, _ = proxied(scripted, remote_addr)
    response = client.get(PAGE, headers={"X-Forwarded-Email": "ada@example.com"})
    assert response.status_code == 200
    assert ">ada@example.com</span>" in response.text


@pytest.mark.parametrize("remote_addr", ["192.0.2.7", "10.2.0.1", "::1"])
def test_proxy_identity_from_anyone_else_is_ignored_and_the_request_refused(scripted, remote_addr):
    client, upstream = proxied(scripted, remote_addr)
    response = client.get(PAGE, headers={"X-Forwarded-Email": "ada@example.com"})
    assert response.status_code == 403
    assert "Sign in through the team&#39;s sign-in proxy" in response.text
    assert "ada@example.com" not in response.text
    assert upstream.requests == []


@pytest.mark.parametrize("value", [None, "", "   ", "ada\x00@example.com", "x" * 300])
def test_a_trusted_proxy_without_a_usable_identity_is_refused(scripted, value):
    client, _ = proxied(scripted)
    headers = {} if value is None else {"X-Forwarded-Email": value}
    response = client.get(PAGE, headers=headers)
    assert response.status_code == 403
    assert "did not say who you are" in response.text


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Forwarded-Email", "ada@example.com"), ("X-Forwarded-Email", "bob@example.com")],
        {"X-Forwarded-Email": "ada@example.com, bob@example.com"},
        {"X-Forwarded-Email": "ada@example.com,bob@example.com"},
    ],
    ids=["two-headers", "joined-with-comma-space", "joined-with-comma"],
)
def test_a_proxy_identity_naming_more_than_one_person_is_refused(scripted, headers):
    client, upstream = proxied(scripted)
    response = client.get(PAGE, headers=headers)
    assert response.status_code == 403
    assert "The sign-in proxy named more than one person" in response.text
    assert "ada@example.com" not in response.text
    assert upstream.requests == []


def test_the_proxy_identity_header_is_configurable(scripted):
    client, _ = proxied(scripted, WEBAPP_PROXY_HEADER="X-Auth-Request-User")
    assert client.get(PAGE, headers={"X-Forwarded-Email": "ada"}).status_code == 403
    response = client.get(PAGE, headers={"X-Auth-Request-User": "ada"})
    assert response.status_code == 200 and ">ada</span>" in response.text


@pytest.mark.parametrize("mode", ["basic", "proxy"])
def test_health_readiness_and_assets_stay_open(scripted, users_file, mode):
    client, _ = scripted(
        ok,
        WEBAPP_AUTH=mode,
        WEBAPP_USERS_FILE=str(users_file),
        WEBAPP_TRUSTED_PROXIES="10.9.9.9",
    )
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get(PAGE).status_code in (401, 403)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"WEBAPP_AUTH": "ldap"}, "WEBAPP_AUTH must be one of none, basic, proxy"),
        ({"WEBAPP_AUTH": "basic"}, "WEBAPP_AUTH=basic needs WEBAPP_USERS_FILE"),
        ({"WEBAPP_AUTH": "proxy"}, "WEBAPP_AUTH=proxy needs WEBAPP_TRUSTED_PROXIES"),
        (
            {"WEBAPP_AUTH": "proxy", "WEBAPP_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"},
            "'proxy.local' is not an IP address",
        ),
    ],
)
def test_unusable_access_settings_stop_the_app_at_start_up(config, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"TESTING": True, **config})


def test_add_user_prompts_twice_without_echo_and_writes_a_werkzeug_hash(tmp_path):
    path = tmp_path / "users"
    app = create_app({"TESTING": True, "WEBAPP_USERS_FILE": str(path)})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["add-user", "ada"], input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    assert "long enough pw" not in result.output  # hidden input
    assert "Repeat for confirmation" in result.output
    name, _, password_hash = path.read_text().strip().partition(":")
    assert name == "ada" and password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert path.stat().st_mode & 0o077 == 0

    basic_app = create_app(
        {"TESTING": True, "WEBAPP_AUTH": "basic", "WEBAPP_USERS_FILE": str(path)}
    )
    assert (
        basic_app.test_client().get(PAGE, headers=basic("ada", "long enough pw")).status_code == 200
    )

    again = runner.invoke(args=["add-user", "ada"], input="another password\nanother password\n")
    assert "Changed the password of ada" in again.output
    assert len(path.read_text().strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "typed", "complaint"),
    [
        (["add-user", "ada"], "short\nshort\n", "at least 8 characters"),
        (["add-user", "ada"], "long enough pw\ndifferent one\n", "do not match"),
        (["add-user", "a:b"], "long enough pw\nlong enough pw\n", "no ':'"),
    ],
)
def test_add_user_refuses_bad_input_and_writes_nothing(tmp_path, args, typed, complaint):
    path = tmp_path / "users"
    app = create_app({"TESTING": True, "WEBAPP_USERS_FILE": str(path)})
    result = app.test_cli_runner().invoke(args=args, input=typed)
    assert complaint in result.output
    assert not path.exists()


def test_add_user_needs_the_users_file_setting():
    app = create_app({"TESTING": True, "WEBAPP_USERS_FILE": ""})
    result = app.test_cli_runner().invoke(args=["add-user", "ada"], input="long enough pw\n" * 2)
    assert result.exit_code != 0 and "Set WEBAPP_USERS_FILE" in result.output


def test_readyz_says_ready_or_unavailable_and_nothing_about_the_data(scripted):
    answers = iter([200, 401])

    def listing(request):
        status = next(answers)
        body = task_page([]) if status == 200 else {"error": "AUTHENTICATION_FAILED"}
        return httpx.Response(status, json=body)

    client, upstream = scripted(listing, readiness_ttl=0)
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_json()) == (200, {"status": "ready"})
    unavailable = client.get("/readyz")
    assert (unavailable.status_code, unavailable.get_json()) == (503, {"status": "unavailable"})
    assert [dict(r.url.params) for r in upstream.requests] == [
        {"limit": "1", "sort": "createdAt:desc"}
    ] * 2


def test_readyz_asks_the_api_at_most_once_per_few_seconds(scripted):
    client, upstream = scripted(ok)
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert len(upstream.requests) == 1


def test_healthz_does_not_touch_the_api(scripted):
    client, upstream = scripted(ok)
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert upstream.requests == []
