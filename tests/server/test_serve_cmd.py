"""`dagy serve` as a process: server.json, signals, the store's ownership, refusals; `dagy users create`."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import pid_alive

PASSWORD = "password-123"


def stderr_of(server) -> str:
    return Path(server.stderr_path).read_text()


def create_owner(run_dagy, email: str = "owner@example.com", password: str = PASSWORD):
    return run_dagy(
        "users",
        "create",
        "--email",
        email,
        "--role",
        "owner",
        "--password-stdin",
        input=password + "\n",
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_json_is_private_and_removed_on_signal_which_exits_0(server_factory, dagy_home, sig):
    server = server_factory()
    server_json = dagy_home / "server.json"
    assert stat.S_IMODE(server_json.stat().st_mode) == 0o600
    info = json.loads(server_json.read_text())
    assert info["pid"] == server.proc.pid
    assert info["url"].startswith("http://127.0.0.1:")
    assert info["api_url"] == info["url"] + "/v1"
    assert info["token"] == server.local_token and len(info["token"]) >= 32
    assert info["started_at"].endswith("Z")
    assert info["local_mode"] is False
    assert server.request("GET", "/health")[0] == 200

    assert server.stop(sig) == 0
    assert not server_json.exists()
    assert "the store is released" in stderr_of(server)
    # Released: another process opens the file at once.
    con = duckdb.connect(str(dagy_home / "dagy.duckdb"))
    try:
        assert con.execute("SELECT count(*) FROM users").fetchone() == (0,)
    finally:
        con.close()


def test_a_second_server_on_the_same_home_refuses(server_factory, run_dagy):
    first = server_factory()
    done = run_dagy("serve", "--port", "0", timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "already running" in lines[0] and str(first.proc.pid) in lines[0]
    assert first.request("GET", "/health")[0] == 200  # the first one is untouched


def test_local_mode_refuses_a_public_host(run_dagy, dagy_home):
    done = run_dagy("serve", "--local", "--host", "0.0.0.0", "--port", "0", timeout=30)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "loopback" in done.stderr
    assert not (dagy_home / "server.json").exists()


def test_without_accounts_the_server_says_how_to_create_the_first_owner(server_factory, run_dagy):
    server = server_factory()
    assert "dagy users create --email" in stderr_of(server)
    assert "--role owner" in stderr_of(server)

    # ... and that command works against the live server (through its local route).
    done = create_owner(run_dagy)
    assert done.returncode == 0, done.stderr
    assert "owner@example.com" in done.stdout
    token = server.login("owner@example.com")
    assert server.request("GET", "/me", token=token)[2]["role"] == "owner"
    again = create_owner(run_dagy)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_users_create_without_a_server_writes_the_store(run_dagy, dagy_home, server_factory):
    done = create_owner(run_dagy, "first@example.com")
    assert done.returncode == 0, done.stderr
    assert not (dagy_home / "server.json").exists()
    con = duckdb.connect(str(dagy_home / "dagy.duckdb"), read_only=True)
    try:
        row = con.execute(
            "SELECT u.password_hash, m.role, m.status FROM users u "
            "JOIN memberships m ON m.email = u.email WHERE u.email = 'first@example.com'"
        ).fetchone()
    finally:
        con.close()
    assert row is not None and row[0].startswith("scrypt$") and row[1:] == ("owner", "active")
    server = server_factory()
    assert "No accounts yet" not in stderr_of(server)
    assert server.request("GET", "/me", token=server.login("first@example.com"))[0] == 200


@pytest.mark.parametrize("password", ["short", "", "1234567"])
def test_users_create_refuses_a_short_password(run_dagy, dagy_home, password):
    done = create_owner(run_dagy, "weak@example.com", password)
    assert done.returncode != 0
    assert "at least 8 characters" in done.stderr
    if (dagy_home / "dagy.duckdb").exists():
        con = duckdb.connect(str(dagy_home / "dagy.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM users").fetchone() == (0,)
        finally:
            con.close()


def test_users_create_needs_a_valid_email(run_dagy):
    done = create_owner(run_dagy, "not-an-email")
    assert done.returncode != 0
    assert "email" in done.stderr.lower()


def test_an_in_flight_request_finishes_on_sigterm(server_factory, dagy_home):
    """No endpoint is slow on purpose, so the request is made slow by its client: the headers and
    part of the body are sent, then SIGTERM, then the rest of the body. The server stops taking new
    connections but answers this one before it exits."""
    server = server_factory()
    status, _, body = server.request(
        "POST",
        "/_local/users",
        token=server.local_token,
        body={"email": "owner@example.com", "password": PASSWORD, "role": "owner"},
    )
    assert status == 201, body
    host, port = server.url.removeprefix("http://").split(":")
    payload = json.dumps({"email": "owner@example.com", "password": PASSWORD}).encode()
    head = (
        f"POST /v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(head + payload[:10])
        time.sleep(0.3)  # the server has the headers: the request is in flight
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # it has stopped listening ...
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
            except ConnectionRefusedError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the server still accepts connections after SIGTERM")
        assert pid_alive(server.proc.pid)  # ... but waits for the request in flight
        client.sendall(payload[10:])
        response = b""
        while chunk := client.recv(65536):
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", response[:300]
    answer = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert answer["token_type"] == "Bearer"
    assert server.proc.wait(timeout=30) == 0
    assert not (dagy_home / "server.json").exists()
    # The token issued during shutdown reached the store before it was released.
    con = duckdb.connect(str(dagy_home / "dagy.duckdb"), read_only=True)
    try:
        (count,) = con.execute("SELECT count(*) FROM access_tokens").fetchone()
    finally:
        con.close()
    assert count == 1


def test_a_killed_server_leaves_a_stale_server_json_that_the_next_one_replaces(
    server_factory, dagy_home
):
    first = server_factory()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(timeout=10)
    assert (dagy_home / "server.json").exists()
    second = server_factory()
    info = json.loads((dagy_home / "server.json").read_text())
    assert info["pid"] == second.proc.pid
    assert second.request("GET", "/health")[0] == 200
