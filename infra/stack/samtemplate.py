"""Read template.yaml for the local stack: one parser, so routes, queues and schedules are
declared only in the template.

Used by the stack's create_resources.py, gateway.py, sqs_poller.py, schedule.py and warmup.py,
and by checks/check_template.py, checks/test_infra.py and measure/moto_bookings.py.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))  # this file: infra/stack/
TEMPLATE_PATH = os.path.join(REPO_ROOT, "template.yaml")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account id


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long form."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load(path: str = TEMPLATE_PATH) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def kebab(logical_id: str) -> str:
    """DeliveryQueue -> delivery-queue, DeliveryDLQ -> delivery-dlq, WorkspacesApi -> workspaces-api."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", logical_id)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", s)
    return s.lower()


def snake_upper(logical_id: str) -> str:
    return kebab(logical_id).replace("-", "_").upper()


# Local physical names. AWS generates them; locally they are fixed so tests and humans can
# find them. Queues: the logical id in kebab-case.
_NAME_OVERRIDES = {"Table": "booking-sync", "ExportBucket": "booking-sync-exports"}


def local_name(logical_id: str, resource_type: str) -> str:
    if logical_id in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[logical_id]
    if resource_type == "AWS::SQS::Queue":
        return kebab(logical_id)
    return "booking-sync-" + kebab(logical_id)


def resources(t: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in (t.get("Resources") or {}).items() if v.get("Type") == resource_type}


@dataclass
class Function:
    logical_id: str
    binary: str
    properties: dict  # Globals.Function merged in (Environment variables merged key by key)
    events: dict = field(default_factory=dict)

    @property
    def timeout(self) -> int:
        return int(self.properties.get("Timeout", 3))


def functions(t: dict) -> list[Function]:
    glob = dict(((t.get("Globals") or {}).get("Function")) or {})
    out = []
    for lid, res in resources(t, "AWS::Serverless::Function").items():
        props = dict(glob)
        own = res.get("Properties") or {}
        props.update(own)
        env = dict(((glob.get("Environment") or {}).get("Variables")) or {})
        env.update(((own.get("Environment") or {}).get("Variables")) or {})
        props["Environment"] = {"Variables": env}
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not binary:
            raise ValueError(f"{lid}: Metadata.BuildProperties.Binary is missing")
        out.append(Function(lid, binary, props, dict(own.get("Events") or {})))
    return out


def events_of_type(t: dict, event_type: str) -> list[tuple[Function, str, dict]]:
    return [
        (fn, name, ev.get("Properties") or {})
        for fn in functions(t)
        for name, ev in fn.events.items()
        if ev.get("Type") == event_type
    ]


@dataclass
class HttpRoute:
    method: str  # upper case, or ANY
    path: str
    binary: str


def http_routes(t: dict) -> list[HttpRoute]:
    return [
        HttpRoute(str(p.get("Method", "ANY")).upper(), p.get("Path", "/{proxy+}"), fn.binary)
        for fn, _, p in events_of_type(t, "HttpApi")
    ]


def ref_target(value: Any) -> str | None:
    """Logical id named by {"Ref": X} or {"Fn::GetAtt": [X, ...]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


@dataclass
class SqsSource:
    binary: str
    queue_logical_id: str
    queue_name: str
    batch_size: int
    window_seconds: int
    report_failures: bool


def sqs_sources(t: dict) -> list[SqsSource]:
    out = []
    for fn, _, p in events_of_type(t, "SQS"):
        qid = ref_target(p.get("Queue"))
        if not qid:
            raise ValueError(f"{fn.logical_id}: SQS event Queue must reference a queue in the template")
        out.append(
            SqsSource(
                fn.binary,
                qid,
                local_name(qid, "AWS::SQS::Queue"),
                int(p.get("BatchSize", 10)),
                int(p.get("MaximumBatchingWindowInSeconds", 0)),
                "ReportBatchItemFailures" in (p.get("FunctionResponseTypes") or []),
            )
        )
    return out


@dataclass
class Schedule:
    binary: str
    name: str
    expression: str
    interval_seconds: int | None  # None: cron(...) - only fired by hand locally
    input: Any
    enabled: bool


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    if not m:
        return None
    return int(m.group(1)) * _UNIT[m.group(2).rstrip("s")]


def schedules(t: dict) -> list[Schedule]:
    out = []
    for event_type in ("Schedule", "ScheduleV2"):
        for fn, name, p in events_of_type(t, event_type):
            expr = str(p.get("Schedule") or p.get("ScheduleExpression") or "")
            enabled = p.get("Enabled", True) is not False and p.get("State", "ENABLED") != "DISABLED"
            out.append(Schedule(fn.binary, name, expr, rate_seconds(expr), p.get("Input"), enabled))
    return out
