"""Production entry point: gevent with gevent-websocket, patched before anything else is imported.

    python -m dispatch.production [--host H] [--port P] [--no-seed]

Same behaviour as `flask --app dispatch serve` (migrate, seed when empty, serve,
stop cleanly), but every connection is a greenlet, so thousands of tablets
cost memory, not threads. Psycopg 3 cooperates with gevent by itself (>= 3.1.14).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402

from dispatch import create_app  # noqa: E402
from dispatch.commands import run_server  # noqa: E402
from dispatch.live import wsfast  # noqa: E402
from dispatch.store import pgwait  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dispatch.production")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--no-seed", dest="seed", action="store_false")
    args = parser.parse_args(argv)
    os.environ["SOCKETIO_ASYNC_MODE"] = "gevent"

    pgwait.install()  # psycopg's waits on the hub's io watchers, not gevent's select.poll emulation
    wsfast.install()  # gevent-websocket's unmasking and UTF-8 check in C

    run_server(create_app(), args.host, args.port, seed=args.seed)


if __name__ == "__main__":
    main()
