#!/usr/bin/env python3
"""Create (or reuse) the local dev workspace and print WORKSPACE_ID=... and API_KEY=... lines.

The workspace id and key are kept in infra/.local/dev_workspace.json and reused while the key
still works (GET /api/workspaces/{id}/api-keys answers 200). moto keeps no state across
restarts, so usually a new workspace is created.
Env: API_URL, ROOT_API_KEY.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request

from stackutil import LOCAL_DIR, logger

log = logger("dev_workspace")
API_URL = os.environ.get("API_URL", "http://127.0.0.1:3000").rstrip("/")
STATE = os.path.join(LOCAL_DIR, "dev_workspace.json")


def call(method: str, path: str, key: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(API_URL + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for attempt in range(5):
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == 4:
                return e.code, e.read()
        except OSError:
            if attempt == 4:
                raise
        time.sleep(2)
    raise AssertionError("unreachable")


def main() -> None:
    root = os.environ.get("ROOT_API_KEY") or sys.exit("ROOT_API_KEY is not set")
    try:
        with open(STATE, encoding="utf-8") as f:
            saved = json.load(f)
        status, _ = call("GET", f"/api/workspaces/{saved['workspaceId']}/api-keys", saved["apiKey"])
        if status == 200:
            log(f"reusing workspace {saved['workspaceId']}")
            ws_id, key = saved["workspaceId"], saved["apiKey"]
        else:
            log(f"saved workspace {saved['workspaceId']} is gone ({status}); creating a new one")
            ws_id = None
    except (FileNotFoundError, ValueError, KeyError):
        ws_id = None
    if ws_id is None:
        status, body = call("POST", "/api/workspaces", root, {"name": "dev"})
        if status != 201:
            sys.exit(f"POST /api/workspaces answered {status}: {body[:500]!r}")
        resp = json.loads(body)
        ws_id, key = resp["workspace"]["id"], resp["apiKey"]
        tmp = STATE + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
            json.dump({"workspaceId": ws_id, "apiKey": key}, f)
        os.replace(tmp, STATE)
        log(f"created workspace {ws_id}")
    print(f"WORKSPACE_ID={shlex.quote(ws_id)}")
    print(f"API_KEY={shlex.quote(key)}")


if __name__ == "__main__":
    main()
