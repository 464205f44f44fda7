"""`crm web [--host 127.0.0.1] [--port 8000]`: the same app in a browser, through textual-serve.

Each browser tab starts its own `crm` app process (with the same --db and --user) and talks to
it over a websocket. Bound to the loopback address by default: textual-serve has no login of its
own, so anything wider belongs behind an authenticating reverse proxy (docs/web.md).
"""

from __future__ import annotations

import argparse
import shlex

from crm_tui.commands.common import add_command

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SESSION_CODE = "import sys; from crm_tui.commands.web import run_app; sys.exit(run_app(sys.argv[1:]))"


def register(sub) -> None:
    web = add_command(
        sub, "web", "crm_tui.commands.web:web",
        "the same app in a browser (textual-serve), on the loopback address by default",
        epilog="No login of its own: to reach it from other machines, put it behind a reverse "
               "proxy that authenticates (nginx or Caddy with basic auth; see docs/web.md) and "
               "keep --host 127.0.0.1.",
    )
    web.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    web.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    web.add_argument("--public-url", metavar="URL",
                     help="the address browsers use, when behind a proxy (e.g. https://crm.example.com)")


def app_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: this module with this Python, the same database
    and user (`run_app` below: the app on textual-serve's web driver, no terminal needed)."""
    import sys

    parts = [sys.executable, "-c", SESSION_CODE]
    if getattr(args, "db", None):
        parts += ["--db", str(args.db)]
    if getattr(args, "user", None):
        parts += ["--user", str(args.user)]
    return shlex.join(parts)


def web(args: argparse.Namespace) -> int:
    import logging
    import sys

    from crm_tui.commands.common import UsageError

    if not 0 < args.port < 65536:
        raise UsageError(f"web: --port {args.port} is not a port number (1-65535)")
    from textual_serve.server import Server

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"crm: web: listening on {args.host}: anyone who can reach it uses the app as "
              f"{args.user or 'you'}; put an authenticating proxy in front (docs/web.md)",
              file=sys.stderr)
    server = Server(app_command(args), host=args.host, port=args.port, title="crm",
                    public_url=args.public_url)
    logging.getLogger("textual-serve").setLevel(logging.WARNING)
    server.serve()
    return 0


def run_app(argv: list[str] | None = None) -> int:
    """One browser session's app (textual-serve starts it with TEXTUAL_DRIVER set to its web
    driver, pipes instead of a terminal)."""
    parser = argparse.ArgumentParser(prog="crm web session")
    parser.add_argument("--db")
    parser.add_argument("--user")
    args = parser.parse_args(argv)
    from crm_tui.app import CrmApp
    from crm_tui.login import acting_login

    app = CrmApp(db_target=args.db, login=acting_login(args.user))
    app.run()
    return app.return_code or 0
