"""`crm web`: textual-serve on the loopback address serves the app's page; stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from crm_tui.commands.web import app_command

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"crm web exited with {process.returncode}: {process.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # polling a server that is starting, not ordering the test
    raise AssertionError(f"crm web did not listen on 127.0.0.1:{port} within {START_TIMEOUT} s")


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses listening on `port`, from the kernel's table (/proc/net/tcp)."""
    found = set()
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in table.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_web_serves_the_app_page_on_loopback(db_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_tui", "--db", str(db_path), "web", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )
    try:
        wait_for_port(port, process, time.monotonic() + START_TIMEOUT)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            status = response.status
            page = response.read().decode("utf-8")
        assert status == 200
        assert "textual-terminal" in page and "js/textual.js" in page
        assert f"ws://127.0.0.1:{port}/ws" in page
        assert listening_addresses(port) == {"127.0.0.1"}  # loopback only, not every address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode is not None


def test_each_session_runs_the_app_with_the_same_database_and_user():
    import argparse

    command = app_command(argparse.Namespace(db="/srv/crm/crm.sqlite3", user="anna"))
    assert "from crm_tui.commands.web import run_app" in command
    assert command.endswith(" --db /srv/crm/crm.sqlite3 --user anna")
    assert command.startswith(sys.executable)
