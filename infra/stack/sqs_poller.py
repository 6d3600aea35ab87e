#!/usr/bin/env python3
"""Local SQS event source mappings: template.yaml's SQS events, run against moto.

For each (function <- queue) it long-polls the queue, gathers up to BatchSize records within
MaximumBatchingWindowInSeconds, invokes the function through `cargo lambda watch`'s Invoke API
with the Lambda SQS event shape, and deletes the records the function did not report in
`batchItemFailures`. Failed records stay and come back after the visibility timeout; moto
moves them to the DLQ at maxReceiveCount. A failed invocation (function error, timeout,
watch unreachable) deletes nothing, as Lambda does.

Env: AWS_ENDPOINT_URL_SQS (the threaded moto: long polls would block a single-threaded one),
WATCH_PORT (default 9000), SQS_POLLERS_PER_QUEUE (default 4: Lambda's SQS event source starts
with five concurrent batches per queue; one poller made a backlog drain at ~2 records/s locally),
SQS_BATCH_WINDOW_SECONDS (overrides every MaximumBatchingWindowInSeconds).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import threading
import time

import samtemplate as st
from stackutil import REGION, aws_client, exit_with_parent, invoke, logger, watch_port

log = logger("sqs_poller")

# Real SQS lets one ReceiveMessage return at most 10 messages.
SQS_MAX_RECEIVE = 10


def lambda_record(m: dict, queue_arn: str) -> dict:
    attrs = dict(m.get("Attributes") or {})
    message_attributes = {}
    for name, a in (m.get("MessageAttributes") or {}).items():
        ma = {
            "stringListValues": a.get("StringListValues", []),
            "binaryListValues": a.get("BinaryListValues", []),
            "dataType": a.get("DataType", "String"),
        }
        if "StringValue" in a:
            ma["stringValue"] = a["StringValue"]
        if "BinaryValue" in a:
            ma["binaryValue"] = base64.b64encode(a["BinaryValue"]).decode()
        message_attributes[name] = ma
    record = {
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m.get("Body", ""),
        "attributes": attrs,
        "messageAttributes": message_attributes,
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if m.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
    return record


class Poller(threading.Thread):
    def __init__(self, src: st.SqsSource, fn_timeout: int, port: int, window: int | None, index: int):
        super().__init__(daemon=True, name=f"{src.queue_name}->{src.binary}#{index}")
        self.src, self.port = src, port
        self.window = src.window_seconds if window is None else window
        # cargo lambda watch may rebuild the function on a code change: allow for that.
        self.invoke_timeout = max(fn_timeout + 30, 120)
        self.sqs = aws_client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=src.queue_name)["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def receive(self, max_messages: int, wait: int) -> list[dict]:
        return self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(SQS_MAX_RECEIVE, max_messages)),
            WaitTimeSeconds=max(0, min(20, wait)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def gather(self) -> list[dict]:
        # keyed by id: a message whose visibility timeout is shorter than the window can come
        # back within it; the newest receipt handle is the one that can delete it
        batch = {m["MessageId"]: m for m in self.receive(self.src.batch_size, 20)}
        deadline = time.monotonic() + self.window
        while batch and len(batch) < self.src.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for m in self.receive(self.src.batch_size - len(batch), int(remaining + 0.999)):
                batch[m["MessageId"]] = m
        return list(batch.values())

    def run(self) -> None:
        log(f"{self.name}: polling {self.url} (batch {self.src.batch_size}, window {self.window}s)")
        while True:
            try:
                batch = self.gather()
                if batch:
                    self.handle(batch)
            except Exception as e:  # moto restarting, watch down: keep polling
                log(f"{self.name}: {e!r}; retrying in 2s")
                time.sleep(2)

    def handle(self, batch: list[dict]) -> None:
        started = time.monotonic()
        event = {"Records": [lambda_record(m, self.arn) for m in batch]}
        try:
            result = invoke(self.port, self.src.binary, json.dumps(event).encode(), self.invoke_timeout)
        except OSError as e:
            log(f"{self.name}: invoke of {len(batch)} records failed ({e!r}); nothing deleted")
            return
        ms = (time.monotonic() - started) * 1000
        if not result.ok:
            log(
                f"{self.name}: {len(batch)} records, function error {result.status} "
                f"{result.body[:300].decode(errors='replace')}; nothing deleted ({ms:.0f}ms)"
            )
            return
        failed = self.failed_ids(result.body, batch)
        if failed is None:
            log(f"{self.name}: bad batchItemFailures {result.body[:300]!r}; whole batch failed")
            return
        done = [m for m in batch if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            chunk = done[i : i + 10]
            resp = self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
            for f in resp.get("Failed", []):
                log(f"{self.name}: delete failed {f}")
        log(f"{self.name}: {len(batch)} records -> {len(done)} done, {len(failed)} failed ({ms:.0f}ms)")

    def failed_ids(self, body: bytes, batch: list[dict]) -> set[str] | None:
        """Ids reported failed; None means the response fails the whole batch (as Lambda does
        for an itemIdentifier that is empty or not in the batch)."""
        if not self.src.report_failures:
            return set()
        try:
            resp = json.loads(body or b"null")
        except ValueError:
            return set()  # Lambda treats a non-JSON response as success
        if not isinstance(resp, dict) or not resp.get("batchItemFailures"):
            return set()
        ids = {m["MessageId"] for m in batch}
        failed = set()
        for f in resp["batchItemFailures"]:
            item = (f or {}).get("itemIdentifier")
            if not item or item not in ids:
                return None
            failed.add(item)
        return failed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args()
    if args.exit_with_parent:
        exit_with_parent()
    t = st.load()
    timeouts = {fn.binary: fn.timeout for fn in st.functions(t)}
    window = os.environ.get("SQS_BATCH_WINDOW_SECONDS")
    per_queue = int(os.environ.get("SQS_POLLERS_PER_QUEUE", 4))
    port = watch_port()
    pollers = [
        Poller(src, timeouts[src.binary], port, int(window) if window else None, i)
        for src in st.sqs_sources(t)
        for i in range(per_queue)
    ]
    if not pollers:
        log("no SQS event sources in the template")
    for p in pollers:
        p.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
