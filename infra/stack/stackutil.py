"""Runtime helpers shared by the local stack's Python processes."""
from __future__ import annotations

import os
import sys
import threading
import time
import urllib.error
import urllib.request

LOCAL_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".local"))  # infra/.local
REGION = "us-east-1"


def logger(component: str):
    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} [{component}] {msg}", file=sys.stderr, flush=True)

    return log


def exit_with_parent() -> None:
    """Exit when the process that started us (infra/up.sh) is gone, even if it was SIGKILLed."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def aws_client(service: str):
    """boto3 client for the local moto endpoint named by AWS_ENDPOINT_URL_<SERVICE>."""
    import boto3
    from botocore.config import Config

    env_var = "AWS_ENDPOINT_URL_" + service.upper()
    endpoint = os.environ.get(env_var)
    if not endpoint:
        sys.exit(f"{env_var} is not set")
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"},
            read_timeout=65,  # above SQS's 20 s long poll
        ),
    )


def watch_port() -> int:
    """WATCH_PORT from the environment, else from the running stack's dev.env, else 9000."""
    if os.environ.get("WATCH_PORT"):
        return int(os.environ["WATCH_PORT"])
    try:
        with open(os.path.join(LOCAL_DIR, "dev.env"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("WATCH_PORT="):
                    return int(line.split("=", 1)[1].strip().strip("'\""))
    except FileNotFoundError:
        pass
    return 9000


class InvokeResult:
    def __init__(self, status: int, function_error: str | None, body: bytes):
        self.status, self.function_error, self.body = status, function_error, body

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.function_error


def invoke(port: int, binary: str, payload: bytes, timeout: float) -> InvokeResult:
    """Invoke a function through `cargo lambda watch`'s Lambda Invoke API.

    watch answers a function error with HTTP 500 and an {"errorType","errorMessage"} body;
    real Lambda answers 200 with X-Amz-Function-Error. Both count as a function error here.
    """
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions/{binary}/invocations",
        data=payload,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return InvokeResult(resp.status, resp.headers.get("X-Amz-Function-Error"), resp.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        return InvokeResult(e.code, e.headers.get("X-Amz-Function-Error") or "Unhandled", body)
