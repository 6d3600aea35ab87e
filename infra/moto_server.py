#!/usr/bin/env python3
"""Run one moto server on a loopback port.

--single-threaded serves one request at a time. DynamoDB must run that way: moto's threaded
server is not atomic for concurrent conditional writes (DESIGN §7) and oversells counters.
SQS/S3 run threaded so a 20 s long poll never blocks anything else.

The process exits when its stdin reaches EOF (when started with --exit-on-stdin-eof), so a
test harness that dies never leaves orphans behind.
"""
import argparse
import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--single-threaded", action="store_true")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()

    if args.exit_on_stdin_eof:
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()

    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=not args.single_threaded,
        use_reloader=False,
        use_debugger=False,
    )


if __name__ == "__main__":
    main()
