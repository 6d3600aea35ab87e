"""Tests of the local stack's pieces that need no Rust: route matching and proxying of the
gateway, the SQS poller against a real moto, the template reader, the moto patches.
Run: python3 -m unittest discover -s infra/checks -p 'test_*.py'   (or python3 infra/checks/test_infra.py)
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

INFRA = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(INFRA, "stack")
sys.path.insert(0, STACK)
sys.path.insert(0, os.path.join(INFRA, "measure"))

import gateway  # noqa: E402
import moto_bookings as mb  # noqa: E402
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

    calls: dict = {}

    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fail = self.headers.get("X-Fail")
        if fail:
            n = _FakeWatch.calls[self.path] = _FakeWatch.calls.get(self.path, 0) + 1
            if fail == "function" or n == 1:
                out = b'{"success":false,"error":{"code":"internal","message":"x"}}' if fail == "function" else b"watch hiccup"
                self.send_response(500)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
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

    def test_a_get_that_cargo_lambda_watch_fails_is_tried_once_more(self):
        status, _, _ = self.call("GET", "/api/bookings/retry-get", headers={"X-Fail": "watch"})
        self.assertEqual(status, 207)
        self.assertEqual(_FakeWatch.calls["/lambda-url/bookings-api/api/bookings/retry-get"], 2)

    def test_a_post_or_the_functions_own_500_is_never_retried(self):
        status, _, data = self.call("POST", "/api/bookings?once", b"{}", {"X-Fail": "watch"})
        self.assertEqual((status, data), (500, b"watch hiccup"))
        self.assertEqual(_FakeWatch.calls["/lambda-url/bookings-api/api/bookings?once"], 1)
        status, _, data = self.call("GET", "/api/bookings/own-500", headers={"X-Fail": "function"})
        self.assertEqual(status, 500)
        self.assertTrue(data.startswith(b'{"success":false'))
        self.assertEqual(_FakeWatch.calls["/lambda-url/bookings-api/api/bookings/own-500"], 1)

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
        [sys.executable, os.path.join(STACK, "moto_server.py"), "--port", str(port), "--exit-on-stdin-eof", *extra],
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


def table_on_moto(port: int, key: list[str], gsi_key: list[str]):
    """A boto3 DynamoDB client on the moto at `port`, and in it a table "t" keyed by the string
    attributes `key` (hash[, range]) with one GSI "gsi" on `gsi_key`, projecting everything."""
    import boto3

    ddb = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )

    def schema(names: list[str]) -> list[dict]:
        return [{"AttributeName": n, "KeyType": t} for n, t in zip(names, ("HASH", "RANGE"))]

    ddb.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in dict.fromkeys(key + gsi_key)],
        KeySchema=schema(key),
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": schema(gsi_key), "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )
    return ddb


class IndexedPartitionQuery(unittest.TestCase):
    """MOTO_INDEXED_PARTITION_QUERY (scale script only) answers every Query like stock moto."""

    def answers(self, indexed: bool) -> list:
        port = free_port()
        env = dict(os.environ, MOTO_INDEXED_PARTITION_QUERY="1" if indexed else "0")
        proc = start_moto(port, "--single-threaded", env=env)
        try:
            ddb = table_on_moto(port, ["pk", "sk"], ["g"])
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


def vm_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class UntrackedModels(unittest.TestCase):
    """moto no longer keeps every model object it built (for its dashboard): repeated GSI COUNT
    queries — a sync job's stats polled by the console or a script — leave the process flat.
    The stock setting is measured too, so this test fails if the patch stops applying."""

    def growth_mb(self, track: bool) -> float:
        port = free_port()
        env = dict(os.environ, MOTO_TRACK_MODELS="1" if track else "0")
        proc = start_moto(port, "--single-threaded", env=env)
        try:
            ddb = table_on_moto(port, ["pk"], ["g", "gs"])
            raw = "x" * 3000
            for i in range(250):  # one page (under 1 MB)
                ddb.put_item(TableName="t", Item={
                    "pk": {"S": f"ev{i}"}, "g": {"S": "job"}, "gs": {"S": f"{i:06d}"},
                    "raw": {"S": raw}, "status": {"S": "processed"}, "n": {"N": str(i)},
                })

            def count() -> int:
                r = ddb.query(TableName="t", IndexName="gsi", Select="COUNT",
                              KeyConditionExpression="g = :g", FilterExpression="#s = :s",
                              ExpressionAttributeNames={"#s": "status"},
                              ExpressionAttributeValues={":g": {"S": "job"}, ":s": {"S": "processed"}})
                return r["Count"]

            for _ in range(5):
                self.assertEqual(count(), 250)
            before = vm_rss_mb(proc.pid)
            for _ in range(100):
                count()
            return vm_rss_mb(proc.pid) - before
        finally:
            stop_moto(proc)

    def test_repeated_queries_do_not_grow_the_process(self):
        stock = self.growth_mb(True)
        patched = self.growth_mb(False)
        self.assertGreater(stock, 15, f"stock moto grew {stock:.1f} MB: the leak this patch removes")
        self.assertLess(patched, 5, f"grew {patched:.1f} MB over 100 queries (stock: {stock:.1f} MB)")


def moto_env(stock: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_STOCK_TRANSACTIONS"}
    if stock:
        env["MOTO_STOCK_TRANSACTIONS"] = "1"
    return env


def stop_moto(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(10)


S, N = mb.s, mb.n
T = mb.TABLE
GSI_PARTITIONS = {
    "gsi1": ["WS#w1#EXAMS", "OUTBOX#PENDING", "G#a", "G#b", "G#c"],
    "gsi2": ["WS#w1#CONTACT#c1#BOOKINGS", "WS#w1#CONTACT#new#BOOKINGS", "H#a", "H#b"],
}


def table_state(ddb) -> dict:
    """Every item (scan) and every GSI partition the tests write to, in Query order."""
    items, q = [], {"TableName": T}
    while True:
        r = ddb.scan(**q)
        items += r["Items"]
        if "LastEvaluatedKey" not in r:
            break
        q["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    out = {"items": sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))}
    for index, partitions in GSI_PARTITIONS.items():
        for pk in partitions:
            for forward in (True, False):
                out[f"{index} {pk} {forward}"] = ddb.query(
                    TableName=T, IndexName=index, KeyConditionExpression=f"{index}pk = :p",
                    ExpressionAttributeValues={":p": S(pk)}, ScanIndexForward=forward,
                )["Items"]
    out["count"] = ddb.describe_table(TableName=T)["Table"]["ItemCount"]
    return out


def outcome(call) -> dict:
    """A call's result without request ids: the response, or the error with its reasons."""
    from botocore.exceptions import ClientError

    try:
        r = call()
        r.pop("ResponseMetadata", None)
        return {"ok": r}
    except ClientError as e:
        return {"error": e.response["Error"].get("Code"), "message": e.response["Error"].get("Message"),
                "reasons": e.response.get("CancellationReasons")}


def seed_mixed(ddb) -> None:
    """Items in both GSIs; the mixed transactions update, replace and delete some of them."""
    mb.put_exam(ddb, T, "w1", "e1", 1)
    ddb.transact_write_items(TransactItems=mb.booking_items(T, "w1", "e1", "c1", "b1", idem="k1"))  # exam now full
    for i, g in enumerate("abc"):
        ddb.put_item(TableName=T, Item={"pk": S(f"X#{i}"), "sk": S("X"), "n": N(i), "txt": S("t" * 10),
                                        "gsi1pk": S(f"G#{g}"), "gsi1sk": S(f"{i}"), "gsi2pk": S("H#a"), "gsi2sk": S(f"{i}")})


def mixed_items(fail_with: str) -> list[dict]:
    """New puts, an update and a replace of existing items, a delete, then `fail_with` goes wrong."""
    items = [
        {"Put": {"TableName": T, "Item": {"pk": S("NEW#1"), "sk": S("N"), "gsi1pk": S("G#a"), "gsi1sk": S("9"),
                                          "gsi2pk": S("WS#w1#CONTACT#new#BOOKINGS"), "gsi2sk": S("n1")},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": T, "Key": {"pk": S("X#0"), "sk": S("X")},
                    "UpdateExpression": "SET gsi1pk = :g, gsi1sk = :k, txt = :t ADD n :one REMOVE gsi2pk",
                    "ExpressionAttributeValues": {":g": S("G#c"), ":k": S("7"), ":t": S("changed"), ":one": N(1)}}},
        {"Delete": {"TableName": T, "Key": {"pk": S("X#1"), "sk": S("X")}, "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": T, "Item": {"pk": S("X#2"), "sk": S("X"), "gsi1pk": S("G#b"), "gsi1sk": S("0"),
                                          "gsi2pk": S("H#b"), "gsi2sk": S("2")}}},
        {"Update": {"TableName": T, "Key": {"pk": S("NEW#2"), "sk": S("N")},  # creates an item
                    "UpdateExpression": "SET gsi1pk = :g, gsi1sk = :k", "ExpressionAttributeValues": {":g": S("G#a"), ":k": S("8")}}},
    ]
    if fail_with == "condition":  # the booking counter of the full exam
        items.append({"Update": {
            "TableName": T, "Key": {"pk": S("WS#w1#EXAM#e1"), "sk": S("EXAM")},
            "UpdateExpression": "ADD #t :one", "ConditionExpression": "#t < #c",
            "ExpressionAttributeNames": {"#t": "totalBookings", "#c": "capacity"},
            "ExpressionAttributeValues": {":one": N(1)}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
    elif fail_with == "check":
        items.append({"ConditionCheck": {"TableName": T, "Key": {"pk": S("WS#w1#BOOKING#b1"), "sk": S("BOOKING")},
                                         "ConditionExpression": "attribute_not_exists(pk)"}})
    elif fail_with == "duplicate":
        items.append({"Delete": {"TableName": T, "Key": {"pk": S("X#0"), "sk": S("X")}}})
    elif fail_with == "error":  # ADD of a number to a string attribute, in the middle of the transaction
        items.append({"Update": {"TableName": T, "Key": {"pk": S("WS#w1#BOOKING#b1"), "sk": S("BOOKING")},
                                 "UpdateExpression": "ADD contactId :one", "ExpressionAttributeValues": {":one": N(1)}}})
    elif fail_with == "too_many":
        items += [{"ConditionCheck": {"TableName": T, "Key": {"pk": S(f"Y#{i}"), "sk": S("Y")},
                                      "ConditionExpression": "attribute_not_exists(pk)"}} for i in range(96)]
    items.append({"Put": {"TableName": T, "Item": {"pk": S("NEW#3"), "sk": S("N"), "gsi1pk": S("G#b"), "gsi1sk": S("5")}}})
    return items


class JournaledTransactions(unittest.TestCase):
    """moto_server.py's single-threaded moto journals TransactWriteItems (moto_patches.py) instead
    of deep-copying the tables: same answers as stock moto, nothing left behind by a cancel."""

    @classmethod
    def setUpClass(cls):
        cls.ports = {"patched": free_port(), "stock": free_port()}
        cls.procs = {mode: start_moto(port, "--single-threaded", env=moto_env(mode == "stock")) for mode, port in cls.ports.items()}
        cls.ddb = {mode: mb.client(f"http://127.0.0.1:{port}") for mode, port in cls.ports.items()}

    @classmethod
    def tearDownClass(cls):
        for proc in cls.procs.values():
            stop_moto(proc)

    def setUp(self):
        for mode, port in self.ports.items():
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"), timeout=10)
            mb.create_table(self.ddb[mode])

    def test_a_cancelled_transaction_leaves_the_table_and_its_gsis_as_before(self):
        ddb = self.ddb["patched"]
        seed_mixed(ddb)
        before = table_state(ddb)
        expected = {
            "condition": ("TransactionCanceledException", ["None"] * 5 + ["ConditionalCheckFailed", "None"]),
            "check": ("TransactionCanceledException", ["None"] * 5 + ["ConditionalCheckFailed", "None"]),
            "error": ("ValidationException", None),  # moto answers a bad operand so, cancelling all
            "duplicate": ("ValidationException", None),
            "too_many": ("ValidationException", None),
        }
        for fail_with, (code, reasons) in expected.items():
            with self.subTest(fail_with):
                out = outcome(lambda: ddb.transact_write_items(TransactItems=mixed_items(fail_with)))
                self.assertEqual(out["error"], code, out)
                self.assertEqual(reasons, out["reasons"] and [r["Code"] for r in out["reasons"]])
                self.assertEqual(table_state(ddb), before)
        out = outcome(lambda: ddb.transact_write_items(TransactItems=mixed_items("condition")))
        self.assertEqual(out["reasons"][5]["Item"]["totalBookings"], N(1))  # ReturnValuesOnConditionCheckFailure
        # the same items without the failing one are all applied
        self.assertIn("ok", outcome(lambda: ddb.transact_write_items(TransactItems=mixed_items("none"))))
        after = table_state(ddb)
        self.assertEqual(after["count"], before["count"] + 2)
        self.assertEqual([i["gsi1sk"]["S"] for i in after["gsi1 G#a True"]], ["8", "9"])
        self.assertEqual([i["pk"]["S"] for i in after["gsi1 G#c True"]], ["X#0"])  # X#2 moved to G#b
        self.assertEqual([i["pk"]["S"] for i in after["gsi1 G#b True"]], ["X#2", "NEW#3"])

    def test_concurrent_bookings_never_oversell(self):
        ddb = self.ddb["patched"]
        mb.put_exam(ddb, T, "w1", "e1", 20)
        start = threading.Barrier(60)
        results: list = [None] * 60

        def one(i):
            c = mb.client(f"http://127.0.0.1:{self.ports['patched']}")
            items = mb.booking_items(T, "w1", "e1", f"c{i}", f"b{i}", idem=f"k{i}" if i % 2 else None)
            start.wait()
            results[i] = outcome(lambda: c.transact_write_items(TransactItems=items))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if "ok" in r]
        self.assertEqual(len(ok), 20)
        for r in results:
            if "ok" not in r:
                self.assertEqual(r["error"], "TransactionCanceledException", r)
                self.assertEqual(r["reasons"][0]["Code"], "ConditionalCheckFailed")
        exam = ddb.get_item(TableName=T, Key={"pk": S("WS#w1#EXAM#e1"), "sk": S("EXAM")})["Item"]
        self.assertEqual((exam["totalBookings"], exam["version"]), (N(20), N(20)))
        state = table_state(ddb)
        self.assertEqual(len(state["gsi1 OUTBOX#PENDING True"]), 20)
        self.assertEqual(sum(i["sk"]["S"].startswith("ACTIVE#") for i in state["items"]), 20)
        self.assertEqual(sum(i["sk"]["S"] == "BOOKING" for i in state["items"]), 20)
        self.assertEqual(state["count"], 1 + 20 * 3 + sum(1 for i in range(60) if i % 2 and "ok" in results[i]))

    def script(self, ddb) -> list:
        """One sequence of bookings, cancels and errors; every answer and the table after each step."""
        out = []

        def step(call):
            out.append(outcome(call))
            out.append(table_state(ddb))

        seed_mixed(ddb)
        step(lambda: {})
        mb.put_exam(ddb, T, "w1", "e2", 3)
        for i in range(5):  # 3 fit
            step(lambda: ddb.transact_write_items(TransactItems=mb.booking_items(T, "w1", "e2", f"c{i}", f"b2{i}", idem=f"k2{i}")))
        ddb.update_item(TableName=T, Key={"pk": S("WS#w1#EXAM#e2"), "sk": S("EXAM")},
                        UpdateExpression="SET #c = :c", ExpressionAttributeNames={"#c": "capacity"},
                        ExpressionAttributeValues={":c": N(10)})
        # the same contact again: its active marker exists; the same idempotency record again
        step(lambda: ddb.transact_write_items(TransactItems=mb.booking_items(T, "w1", "e2", "c1", "b2x", idem="k2x")))
        step(lambda: ddb.transact_write_items(TransactItems=mb.booking_items(T, "w1", "e2", "c9", "b2y", idem="k20")))
        for fail_with in ("condition", "check", "error", "duplicate", "too_many", "none", "condition"):
            step(lambda: ddb.transact_write_items(TransactItems=mixed_items(fail_with)))
        # a ConditionCheck that holds with a delete and an update; then a missing table (validated up
        # front for a Put, a cancellation reason for a ConditionCheck after a delete)
        step(lambda: ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": T, "Key": {"pk": S("WS#w1#EXAM#e1"), "sk": S("EXAM")},
                                "ConditionExpression": "totalBookings = :n", "ExpressionAttributeValues": {":n": N(1)}}},
            {"Delete": {"TableName": T, "Key": {"pk": S("WS#w1#EXAM#e2"), "sk": S("ACTIVE#c0")}}},
            {"Update": {"TableName": T, "Key": {"pk": S("WS#w1#EXAM#e2"), "sk": S("EXAM")},
                        "UpdateExpression": "ADD totalBookings :m", "ExpressionAttributeValues": {":m": N(-1)}}},
        ]))
        step(lambda: ddb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": T, "Key": {"pk": S("WS#w1#EXAM#e2"), "sk": S("ACTIVE#c1")}}},
            {"Put": {"TableName": "no-such-table", "Item": {"pk": S("a"), "sk": S("b")}}},
        ]))
        step(lambda: ddb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": T, "Key": {"pk": S("WS#w1#EXAM#e2"), "sk": S("ACTIVE#c1")}}},
            {"ConditionCheck": {"TableName": "no-such-table", "Key": {"pk": S("a"), "sk": S("b")},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ]))
        return out

    def test_same_answers_and_tables_as_stock_moto(self):
        stock = self.script(self.ddb["stock"])
        patched = self.script(self.ddb["patched"])
        self.assertEqual(len(stock), len(patched))
        for i, (a, b) in enumerate(zip(stock, patched)):
            self.assertEqual(b, a, f"step {i // 2}, {'state' if i % 2 else 'answer'}")
        answers = stock[0::2]
        # the script really exercises successes, cancels with reasons and old items, validation errors
        self.assertEqual(sum("ok" in a for a in answers), 1 + 3 + 1 + 1)
        self.assertTrue(any(r.get("Item") for a in answers for r in (a.get("reasons") or [])))
        self.assertIn("ResourceNotFoundException", [r["Code"] for r in answers[-1]["reasons"]])
        self.assertGreaterEqual(sum(a.get("error") == "ValidationException" for a in answers), 2)
        self.assertGreater(len({json.dumps(s, sort_keys=True) for s in stock[1::2]}), 5)

    def test_booking_latency_does_not_grow_with_the_table(self):
        """Median of 50 bookings with ~5,000 items vs the empty table: within 2x (stock moto: ~50x at 2,000 items)."""
        import statistics

        ddb = self.ddb["patched"]
        mb.put_exam(ddb, T, "w1", "empty", 100)
        mb.put_exam(ddb, T, "w1", "full", 100)
        mb.book(ddb, T, "w1", "empty", 5, "warm")
        empty = mb.book(ddb, T, "w1", "empty", 50, "e")
        import random

        mb.seed(ddb, T, 5000, 250, random.Random(3))
        full = mb.book(ddb, T, "w1", "full", 50, "f")
        ratio = statistics.median(full) / statistics.median(empty)
        self.assertLess(ratio, 2.0, f"median {statistics.median(full) * 1000:.1f} ms at 5,000 items vs {statistics.median(empty) * 1000:.1f} ms")


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
