#!/usr/bin/env python3
"""A webhook receiver for the integration tests, verifying as a customer would: every request
is checked with the stock `standardwebhooks` library (`Webhook(secret).verify(body, headers)`,
5-minute timestamp tolerance) against each `--secret`, and the legacy seed 001 headers
(`X-Webhook-Signature`, `X-Webhook-Signature-Previous`: hex HMAC-SHA256 keyed by the full
secret string) with plain `hmac`. It answers 200 when a Standard Webhooks signature verified,
401 otherwise, and records every verdict; `GET /verdicts` returns them as JSON.

Prints the port it listens on (127.0.0.1, chosen by the OS) as its first line. With
`--exit-on-stdin-eof` it stops when its stdin closes (the test process died or finished).
"""

import argparse
import hashlib
import hmac
import http.server
import json
import sys
import threading

from standardwebhooks import Webhook


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", action="append", required=True)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()
    verdicts = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verdict = {
                "webhookId": headers.get("webhook-id"),
                "timestamp": headers.get("webhook-timestamp"),
                "event": headers.get("x-webhook-event"),
                "body": body.decode("utf-8", "replace"),
                "standard": [],
                "legacy": {},
            }
            for secret in args.secret:
                try:
                    Webhook(secret).verify(body, headers)
                    verdict["standard"].append({"ok": True, "error": None})
                except Exception as e:  # the library's verdict, recorded as is
                    verdict["standard"].append({"ok": False, "error": str(e)})
            for name in ("x-webhook-signature", "x-webhook-signature-previous"):
                if name in headers:
                    verdict["legacy"][name] = [
                        hmac.compare_digest(
                            hmac.new(s.encode(), body, hashlib.sha256).hexdigest(), headers[name]
                        )
                        for s in args.secret
                    ]
            ok = any(v["ok"] for v in verdict["standard"])
            with lock:
                verdicts.append(verdict)
            self.send_response(200 if ok else 401)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(b"verified" if ok else b"invalid signature")

        def do_GET(self) -> None:
            with lock:
                data = json.dumps(verdicts).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            sys.stdin.read()
            server.shutdown()

        threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
