#!/usr/bin/env python3
"""Local API Gateway (HTTP API) in front of `cargo lambda watch`.

Routes are the HttpApi events of template.yaml (re-read when the file changes), so a route
missing from the template is missing locally too. A request matching (method, path) is
proxied to http://127.0.0.1:<watch port>/lambda-url/<bin><path>?<query> with its method,
headers and raw body unchanged; the response comes back as the function gave it.

Matching follows API Gateway HTTP APIs: the most specific route wins - literal segments beat
{param} segments, which beat a greedy {proxy+}; a route with a method beats ANY. No route ->
404 {"message":"Not Found"}.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import samtemplate as st
from stackutil import exit_with_parent, logger

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",  # recomputed from the bytes actually sent
}


def split_path(path: str) -> list[str]:
    """'/a/b' -> ['a', 'b']; '/' -> []; a trailing slash is an empty last segment, so
    '/api/bookings/x/' does not match '/api/bookings/{id}'."""
    return path[1:].split("/") if path not in ("", "/") else []


class Route:
    def __init__(self, method: str, path: str, binary: str):
        self.method, self.path, self.binary = method, path, binary
        self.segments = split_path(path)
        if any(s.endswith("+}") for s in self.segments[:-1]):
            raise ValueError(f"{path}: a greedy variable must be the last segment")

    def match(self, method: str, segments: list[str]):
        """None, or a sort key: smaller is more specific."""
        if self.method not in (method, "ANY"):
            return None
        kinds = []
        for i, pat in enumerate(self.segments):
            if pat.startswith("{") and pat.endswith("+}"):
                if i >= len(segments) or segments[i] == "":
                    return None
                kinds.append(2)
                break
            if i >= len(segments):
                return None
            if pat.startswith("{") and pat.endswith("}"):
                if segments[i] == "":
                    return None
                kinds.append(1)
            elif pat != segments[i]:
                return None
            else:
                kinds.append(0)
        else:
            if len(segments) != len(self.segments):
                return None
        return (kinds, self.method == "ANY")


class RouteTable:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.mtime = None
        self.routes: list[Route] = []
        self.reload()

    def reload(self) -> None:
        mtime = os.stat(self.path).st_mtime
        if mtime == self.mtime:
            return
        self.mtime = mtime  # a broken edit is reported once; the next save is read again
        routes, seen = [], {}
        for r in st.http_routes(st.load(self.path)):
            key = (r.method, r.path)
            if key in seen:
                raise ValueError(f"route {r.method} {r.path} is declared by both {seen[key]} and {r.binary}")
            seen[key] = r.binary
            routes.append(Route(r.method, r.path, r.binary))
        self.routes = routes
        log(f"{len(routes)} routes from {self.path}")

    def find(self, method: str, raw_path: str) -> Route | None:
        with self.lock:
            try:
                self.reload()
            except Exception as e:  # keep serving the last good table
                log(f"template reload failed, keeping old routes: {e}")
            routes = self.routes
        segments = split_path(raw_path)
        best = None
        for r in routes:
            key = r.match(method, segments)
            if key is not None and (best is None or key < best[0]):
                best = (key, r)
        return best[1] if best else None


log = logger("gateway")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "local-apigw"
    sys_version = ""

    routes: RouteTable
    upstream_port: int
    timeout_seconds: float

    def log_message(self, fmt, *args):  # replaced by one line per proxied request
        pass

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _message(self, status: int, message: str, detail: str | None = None) -> None:
        headers = [("Content-Type", "application/json")]
        if detail:
            headers.append(("x-local-gateway-error", detail.replace("\n", " ")[:500]))
        self._send(status, json.dumps({"message": message}, separators=(",", ":")).encode(), headers)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _proxy(self) -> None:
        started = time.monotonic()
        target = urlsplit(self.path)
        raw_path = target.path or "/"
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._message(413, "Request Entity Too Large")
            return
        route = self.routes.find(self.command, raw_path)
        if route is None:
            self._message(404, "Not Found")
            log(f"{self.command} {raw_path} -> no route 404")
            return
        upstream_path = f"/lambda-url/{route.binary}{raw_path}"
        if target.query:
            upstream_path += "?" + target.query
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        # A GET/HEAD that `cargo lambda watch` itself fails (a 5xx that is not the functions'
        # JSON error shape: seen while it spawns several instances of one function for a
        # browser's parallel asset requests) is tried once more: it is idempotent, and the
        # function's own 5xx answers pass through untouched.
        attempts = 2 if self.command in ("GET", "HEAD") else 1
        for attempt in range(attempts):
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=self.timeout_seconds)
            try:
                conn.putrequest(self.command, upstream_path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP and k.lower() != "date"]
                status = resp.status
            except TimeoutError:
                self._message(503, "Service Unavailable", f"{route.binary} did not answer in {self.timeout_seconds:.0f}s")
                log(f"{self.command} {raw_path} -> {route.binary} TIMEOUT")
                return
            except OSError as e:
                self._message(500, "Internal Server Error", f"cannot reach cargo lambda watch: {e}")
                log(f"{self.command} {raw_path} -> {route.binary} upstream error {e!r}")
                return
            finally:
                conn.close()
            if status < 500 or data.startswith(b'{"success":false') or attempt + 1 == attempts:
                break
            log(f"{self.command} {raw_path} -> {route.binary} {status} from cargo lambda watch "
                f"({data[:200]!r}); trying once more")
        self._send(status, data, out_headers)
        ms = (time.monotonic() - started) * 1000
        log(f"{self.command} {raw_path} -> {route.binary} {status} {len(data)}B {ms:.0f}ms")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("API_PORT", 3000)))
    ap.add_argument("--watch-port", type=int, default=int(os.environ.get("WATCH_PORT", 9000)))
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("GATEWAY_TIMEOUT_SECONDS", 120)))
    ap.add_argument("--template", default=st.TEMPLATE_PATH)
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args()
    if args.exit_with_parent:
        exit_with_parent()

    Handler.routes = RouteTable(args.template)
    Handler.upstream_port = args.watch_port
    Handler.timeout_seconds = args.timeout
    server = Server((args.host, args.port), Handler)
    log(f"listening on http://{args.host}:{args.port} -> cargo lambda watch on 127.0.0.1:{args.watch_port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
