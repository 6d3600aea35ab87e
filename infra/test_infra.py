"""Tests of the local stack's pieces that need no Rust: route matching and proxying of the
gateway, the SQS poller against a real moto, the template reader.
Run: python3 -m unittest discover -s infra -p 'test_*.py'
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway  # noqa: E402
import samtemplate as st  # noqa: E402
import sqs_poller  # noqa: E402

# the pieces log one line per request/batch; keep the test output to the verdicts
gateway.log = sqs_poller.log = lambda msg: None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TEMPLATE = """
Globals:
  Function:
    Timeout: 30
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
  A:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: a}}
    Properties:
      Events:
        One: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: GET, Path: "/api/bookings/{id}"}}
        Two: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: POST, Path: /api/bookings/create}}
        Three: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: ANY, Path: "/api/{proxy+}"}}
  B:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: b}}
    Properties:
      Timeout: 60
      Events:
        One: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: POST, Path: "/api/bookings/{id}"}}
        Two: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: GET, Path: /api/bookings/special}}
        Q: {Type: SQS, Properties: {Queue: !GetAtt DeliveryQueue.Arn, BatchSize: 3, FunctionResponseTypes: [ReportBatchItemFailures]}}
        S: {Type: Schedule, Properties: {Schedule: rate(5 minutes)}}
  DeliveryQueue:
    Type: AWS::SQS::Queue
"""


class TemplateReader(unittest.TestCase):
    def setUp(self):
        import yaml

        self.t = yaml.load(TEMPLATE, Loader=st._CfnLoader)

    def test_tags_become_long_form(self):
        fn = {f.binary: f for f in st.functions(self.t)}
        self.assertEqual(fn["a"].properties["Environment"]["Variables"]["TABLE_NAME"], {"Ref": "Table"})
        self.assertEqual(fn["a"].timeout, 30)
        self.assertEqual(fn["b"].timeout, 60)

    def test_sources_and_schedules(self):
        [src] = st.sqs_sources(self.t)
        self.assertEqual((src.binary, src.queue_name, src.batch_size, src.report_failures), ("b", "delivery-queue", 3, True))
        [s] = st.schedules(self.t)
        self.assertEqual((s.binary, s.interval_seconds), ("b", 300))

    def test_names(self):
        self.assertEqual(st.kebab("DeliveryDLQ"), "delivery-dlq")
        self.assertEqual(st.kebab("InboundQueue"), "inbound-queue")
        self.assertEqual(st.local_name("Table", "AWS::DynamoDB::Table"), "booking-sync")
        self.assertEqual(st.rate_seconds("rate(1 hour)"), 3600)
        self.assertIsNone(st.rate_seconds("cron(0 * * * ? *)"))

    def test_local_env_resolves_refs_and_passes_function_literals(self):
        import create_resources

        create_resources.log = lambda msg: None  # it warns about BUDGET_MS's two values
        self.t["Resources"]["A"]["Properties"]["Environment"] = {
            "Variables": {"BUDGET_MS": "3000", "FLAG": True, "SECRET": {"Ref": "SomeParameter"}}
        }
        self.t["Resources"]["B"]["Properties"]["Environment"] = {"Variables": {"BUDGET_MS": "9"}}
        created = {"Table": {"Ref": "booking-sync"}, "DeliveryQueue": {"Ref": "http://q/delivery-queue"}}
        env = dict(create_resources.emit_env(self.t, created))
        self.assertEqual(
            env,
            {"TABLE_NAME": "booking-sync", "DELIVERY_QUEUE_URL": "http://q/delivery-queue", "BUDGET_MS": "3000", "FLAG": "true"},
        )

    def test_real_template_loads(self):
        t = st.load()
        self.assertIn(("GET", "/api/health"), {(r.method, r.path) for r in st.http_routes(t)})


class RouteMatching(unittest.TestCase):
    def setUp(self):
        self.table = gateway.RouteTable.__new__(gateway.RouteTable)
        self.table.lock = threading.Lock()
        self.table.reload = lambda: None
        import yaml

        t = yaml.load(TEMPLATE, Loader=st._CfnLoader)
        self.table.routes = [gateway.Route(r.method, r.path, r.binary) for r in st.http_routes(t)]

    def find(self, method, path):
        r = self.table.find(method, path)
        return r and (r.binary, r.path)

    def test_literal_beats_param_beats_greedy(self):
        self.assertEqual(self.find("GET", "/api/bookings/special"), ("b", "/api/bookings/special"))
        self.assertEqual(self.find("GET", "/api/bookings/bk_1"), ("a", "/api/bookings/{id}"))
        self.assertEqual(self.find("POST", "/api/bookings/create"), ("a", "/api/bookings/create"))
        self.assertEqual(self.find("POST", "/api/bookings/bk_1"), ("b", "/api/bookings/{id}"))
        self.assertEqual(self.find("DELETE", "/api/bookings/bk_1"), ("a", "/api/{proxy+}"))
        self.assertEqual(self.find("GET", "/api/x/y/z"), ("a", "/api/{proxy+}"))

    def test_no_route(self):
        self.assertIsNone(self.find("GET", "/other"))
        self.assertIsNone(self.find("GET", "/api"))
        self.assertIsNone(self.find("GET", "/api/"))


class _FakeWatch(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps(
            {"method": self.command, "path": self.path, "len": len(body), "sum": sum(body), "x": self.headers.get("X-Custom")}
        ).encode()
        self.send_response(207)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = _any


class GatewayProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.watch = ThreadingHTTPServer(("127.0.0.1", 0), _FakeWatch)
        threading.Thread(target=cls.watch.serve_forever, daemon=True).start()
        gateway.Handler.routes = gateway.RouteTable(st.TEMPLATE_PATH)
        gateway.Handler.upstream_port = cls.watch.server_address[1]
        gateway.Handler.timeout_seconds = 35
        cls.gw = gateway.Server(("127.0.0.1", 0), gateway.Handler)
        threading.Thread(target=cls.gw.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.gw.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.gw.shutdown()
        cls.watch.shutdown()

    def call(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def test_proxies_to_the_function_url_of_the_routes_binary(self):
        body = bytes(range(256)) * 8192  # 2 MiB, every byte value
        status, headers, data = self.call("POST", "/api/bookings?a=1&b=%20", body, {"X-Custom": "v"})
        d = json.loads(data)
        self.assertEqual(status, 207)
        self.assertEqual(d["path"], "/lambda-url/bookings-api/api/bookings?a=1&b=%20")
        self.assertEqual((d["len"], d["sum"], d["x"]), (len(body), sum(body), "v"))
        self.assertEqual(headers.get_all("Set-Cookie"), ["a=1", "b=2"])

    def test_unknown_route_is_404_not_found(self):
        status, _, data = self.call("PATCH", "/api/bookings/b1")
        self.assertEqual((status, data), (404, b'{"message":"Not Found"}'))

    def test_concurrent_requests(self):
        results = []

        def one(i):
            results.append(self.call("GET", f"/api/bookings/b{i}")[0])

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [207] * 20)


class _FakeInvoke(BaseHTTPRequestHandler):
    """Fails the records whose body contains 'fail'; a body 'crash' is a function error."""

    protocol_version = "HTTP/1.1"
    events: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeInvoke.events.append(event)
        if any(r["body"] == "crash" for r in event["Records"]):
            status, out = 500, {"errorType": "boom", "errorMessage": "boom"}
        else:
            status, out = 200, {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if "fail" in r["body"]]}
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start_moto(port: int, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "moto_server.py"), "--port", str(port), "--exit-on-stdin-eof", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class IndexedPartitionQuery(unittest.TestCase):
    """MOTO_INDEXED_PARTITION_QUERY (scale script only) answers every Query like stock moto."""

    def answers(self, indexed: bool) -> list:
        import boto3

        port = free_port()
        env = dict(os.environ, MOTO_INDEXED_PARTITION_QUERY="1" if indexed else "0")
        proc = start_moto(port, "--single-threaded", env=env)
        try:
            ddb = boto3.client(
                "dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                aws_access_key_id="test", aws_secret_access_key="test",
            )
            ddb.create_table(
                TableName="t",
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[{
                    "IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }],
                BillingMode="PAY_PER_REQUEST",
            )
            for p in range(5):
                for k in range(7):
                    ddb.put_item(TableName="t", Item={
                        "pk": {"S": f"P{p}"}, "sk": {"S": f"S{(k * 3) % 7}"}, "g": {"S": f"G{k % 2}"}, "n": {"N": str(k)},
                    })
            out = []
            for fwd in (True, False):
                q = {"TableName": "t", "KeyConditionExpression": "pk = :p", "ScanIndexForward": fwd, "Limit": 3,
                     "ExpressionAttributeValues": {":p": {"S": "P2"}}, "ConsistentRead": True}
                while True:
                    r = ddb.query(**q)
                    out.append((r["Items"], r.get("LastEvaluatedKey")))
                    if "LastEvaluatedKey" not in r:
                        break
                    q["ExclusiveStartKey"] = r["LastEvaluatedKey"]
            out.append(ddb.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                                 FilterExpression="n > :z",
                                 ExpressionAttributeValues={":p": {"S": "P1"}, ":s": {"S": "S"}, ":z": {"N": "2"}})["Items"])
            out.append(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": {"S": "nobody"}})["Items"])
            out.append(ddb.query(TableName="t", IndexName="gsi", KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": {"S": "G1"}})["Items"])
            return out
        finally:
            proc.stdin.close()
            proc.wait(10)

    def test_same_items_order_and_cursors_as_stock_moto(self):
        stock = self.answers(False)
        self.assertEqual(len(stock[0][0]), 3)  # the dataset really pages
        self.assertEqual(self.answers(True), stock)


class SqsPollerOnMoto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.moto = start_moto(port)
        os.environ["AWS_ENDPOINT_URL_SQS"] = f"http://127.0.0.1:{port}"
        cls.invoke = ThreadingHTTPServer(("127.0.0.1", 0), _FakeInvoke)
        threading.Thread(target=cls.invoke.serve_forever, daemon=True).start()
        from stackutil import aws_client

        cls.sqs = aws_client("sqs")
        dlq = cls.sqs.create_queue(QueueName="t-dlq")["QueueUrl"]
        dlq_arn = cls.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        cls.url = cls.sqs.create_queue(
            QueueName="t-queue",
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})},
        )["QueueUrl"]

    @classmethod
    def tearDownClass(cls):
        cls.invoke.shutdown()
        cls.moto.stdin.close()
        cls.moto.wait(10)

    def setUp(self):
        self.sqs.purge_queue(QueueUrl=self.url)
        _FakeInvoke.events.clear()
        src = st.SqsSource("fn", "TQueue", "t-queue", 10, 0, True)
        self.poller = sqs_poller.Poller(src, 30, self.invoke.server_address[1], None, 0)

    def count(self) -> int:
        a = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    def test_deletes_all_but_the_reported_failures_and_builds_the_lambda_event(self):
        self.sqs.send_message(
            QueueUrl=self.url, MessageBody="ok", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
        )
        self.sqs.send_message(QueueUrl=self.url, MessageBody="please fail")
        batch = self.poller.gather()
        self.assertEqual(len(batch), 2)
        self.poller.handle(batch)
        self.assertEqual(self.count(), 1)
        [event] = _FakeInvoke.events
        rec = next(r for r in event["Records"] if r["body"] == "ok")
        self.assertEqual(rec["eventSource"], "aws:sqs")
        self.assertEqual(rec["eventSourceARN"], self.poller.arn)
        self.assertEqual(rec["awsRegion"], "us-east-1")
        self.assertEqual(rec["attributes"]["ApproximateReceiveCount"], "1")
        for key in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
            self.assertIn(key, rec["attributes"])
        self.assertEqual(rec["messageAttributes"]["k"]["stringValue"], "v")
        self.assertEqual(rec["messageAttributes"]["k"]["dataType"], "String")
        for key in ("messageId", "receiptHandle", "md5OfBody"):
            self.assertTrue(rec[key])

    def test_function_error_deletes_nothing(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="ok")
        self.sqs.send_message(QueueUrl=self.url, MessageBody="crash")
        self.poller.handle(self.poller.gather())
        self.assertEqual(self.count(), 2)

    def test_unknown_item_identifier_fails_the_batch(self):
        self.assertIsNone(self.poller.failed_ids(b'{"batchItemFailures":[{"itemIdentifier":"nope"}]}', [{"MessageId": "m"}]))
        self.assertEqual(self.poller.failed_ids(b"null", [{"MessageId": "m"}]), set())
        self.assertEqual(self.poller.failed_ids(b'{"batchItemFailures":[]}', [{"MessageId": "m"}]), set())


if __name__ == "__main__":
    unittest.main()
