"""The first-run and automation commands, run as an operator runs them, against the running app."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx

from tests.conftest import REPO_ROOT


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inventory_app.cli", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_admin_and_a_token_from_the_command_line_work_against_the_api(app_url: str) -> None:
    email = f"Ops-{uuid.uuid4().hex[:8]}@Tests.Example"
    created = cli("users", "create", "--role", "admin", email, "--password-stdin", stdin="an operator passphrase\n")
    assert created.returncode == 0, created.stderr
    assert f"created admin {email.lower()}" in created.stdout
    again = cli("users", "create", "--role", "admin", email, "--password-stdin", stdin="an operator passphrase\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    token = cli("tokens", "create", "--user", email, "--name", "ci")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("inv_") and "\n" not in secret  # stdout is the secret alone, for $(...)
    me = httpx.get(f"{app_url}/api/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert me.status_code == 200
    assert me.json()["user"] == {**me.json()["user"], "email": email.lower(), "role": "admin"}
    assert me.json()["token"]["name"] == "ci"
    signed_in = httpx.post(
        f"{app_url}/api/auth/session", json={"email": email, "password": "an operator passphrase"}, timeout=30
    )
    assert signed_in.status_code == 200
    log = httpx.get(
        f"{app_url}/api/security-events", params={"kind": "user_created"}, headers={"Authorization": f"Bearer {secret}"}
    ).json()
    mine = next(e for e in log["data"] if e["email"] == email.lower())
    assert mine["actor"] == {"type": "system", "id": None, "name": "system"} and mine["ip"] is None


def test_short_passwords_and_unknown_users_are_refused_with_a_message() -> None:
    short = cli(
        "users",
        "create",
        "--role",
        "viewer",
        f"v-{uuid.uuid4().hex[:8]}@tests.example",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 1 and "password" in short.stderr
    unknown = cli("tokens", "create", "--user", "nobody@tests.example", "--name", "x")
    assert unknown.returncode == 1 and "No user" in unknown.stderr


def test_first_run_is_quiet_once_there_are_users(accounts) -> None:
    result = cli("first-run")
    assert result.returncode == 0 and result.stdout == ""
