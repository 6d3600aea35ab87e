#!/usr/bin/env python3
"""Run one moto server on a loopback port.

--single-threaded serves one request at a time. DynamoDB must run that way: moto's threaded
server is not atomic for concurrent conditional writes (DESIGN §7) and oversells counters.
SQS/S3 run threaded so a 20 s long poll never blocks anything else.

MOTO_INDEXED_PARTITION_QUERY=1 (used by infra/measure/scale_reconcile.sh only) makes a base-table Query
read its one partition instead of sorting every item of the table (moto's Query is O(n log n)
in the table size: ~0.45 s per Query at 25k items). Same results, same ordering; everything
else, including CI, runs stock moto's Query.

TransactWriteItems on the single-threaded process journals the items a transaction touches
instead of deep-copying every table it touches once per item (stock moto: cost and garbage grow
with the table, DESIGN §7); same results, same cancellation reasons. MOTO_STOCK_TRANSACTIONS=1
runs stock moto's transactions.

Every process: moto's models are not registered for its dashboard (moto keeps every model
object it ever built — each Query's copies of the items it matched, replaced items, SQS
messages — for /moto-api/data.json, so memory grew with every request). MOTO_TRACK_MODELS=1
restores it. The patches live in moto_patches.py.

The process exits when its stdin reaches EOF (when started with --exit-on-stdin-eof), so a
test harness that dies never leaves orphans behind.
"""
import argparse
import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from moto_patches import index_partition_queries, journaled_transactions, untracked_models


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

    # Every process: moto keeps no reference to each model object it ever built (a Query's
    # copies, replaced items, SQS messages) for its dashboard, so memory stays bounded.
    if os.environ.get("MOTO_TRACK_MODELS") != "1":
        untracked_models()
    # Only the single-threaded (DynamoDB) process: the patches keep per-request state in
    # module globals (the running transaction's journal, a method swapped per Query).
    if args.single_threaded:
        if os.environ.get("MOTO_STOCK_TRANSACTIONS") != "1":
            journaled_transactions()
        if os.environ.get("MOTO_INDEXED_PARTITION_QUERY") == "1":
            index_partition_queries()

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
