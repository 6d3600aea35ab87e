#!/usr/bin/env python3
"""Consistency checks between template.yaml and the Cargo workspace (cfn-lint cannot see the
crates):

- every functions/<dir> crate has exactly one AWS::Serverless::Function whose
  Metadata.BuildProperties.Binary is the crate's package name, and every function names such
  a crate; each is built with BuildMethod rust-cargolambda from CodeUri "." (the workspace);
- every SQS event source reports partial batch failures (without ReportBatchItemFailures a
  failed record is silently treated as processed), reads a queue of this template that has a
  DLQ, and that queue's VisibilityTimeout is at least 6 x the function's Timeout;
- HttpApi events name the template's HttpApi, and no (method, path) is declared twice;
- schedules are rate(...) or cron(...).
"""
from __future__ import annotations

import glob
import os
import re
import sys
import tomllib

# The local stack's modules (samtemplate, stackutil, ...) live in infra/stack/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stack"))

import samtemplate as st  # noqa: E402


def crate_names() -> dict[str, str]:
    """package name -> crate directory, for functions/*/Cargo.toml."""
    out = {}
    for manifest in sorted(glob.glob(os.path.join(st.REPO_ROOT, "functions", "*", "Cargo.toml"))):
        with open(manifest, "rb") as f:
            name = tomllib.load(f)["package"]["name"]
        out[name] = os.path.relpath(os.path.dirname(manifest), st.REPO_ROOT)
    return out


def check(t: dict, crates: dict[str, str]) -> list[str]:
    errors = []
    resources = t.get("Resources") or {}
    fns = st.functions(t)

    by_binary: dict[str, list[str]] = {}
    for fn in fns:
        by_binary.setdefault(fn.binary, []).append(fn.logical_id)
        meta = resources[fn.logical_id].get("Metadata") or {}
        if meta.get("BuildMethod") != "rust-cargolambda":
            errors.append(f"{fn.logical_id}: Metadata.BuildMethod must be rust-cargolambda")
        if fn.properties.get("CodeUri") not in (".", "./"):
            errors.append(f"{fn.logical_id}: CodeUri must be . (the Cargo workspace root)")
    for binary, ids in sorted(by_binary.items()):
        if len(ids) > 1:
            errors.append(f"binary {binary} is built by several functions: {', '.join(ids)}")
        if binary not in crates:
            errors.append(f"{ids[0]}: BuildProperties.Binary {binary!r} is not a crate under functions/")
    for name, path in sorted(crates.items()):
        if name not in by_binary:
            errors.append(f"crate {name} ({path}) has no AWS::Serverless::Function in template.yaml")

    queues = st.resources(t, "AWS::SQS::Queue")
    for fn in fns:
        for ev_name, ev in fn.events.items():
            p = ev.get("Properties") or {}
            where = f"{fn.logical_id}.Events.{ev_name}"
            if ev.get("Type") == "SQS":
                if "ReportBatchItemFailures" not in (p.get("FunctionResponseTypes") or []):
                    errors.append(f"{where}: FunctionResponseTypes must include ReportBatchItemFailures")
                qid = st.ref_target(p.get("Queue"))
                if qid not in queues:
                    errors.append(f"{where}: Queue must be !GetAtt <queue of this template>.Arn")
                    continue
                qp = queues[qid].get("Properties") or {}
                if not qp.get("RedrivePolicy"):
                    errors.append(f"{where}: queue {qid} has no RedrivePolicy (DLQ)")
                visibility = int(qp.get("VisibilityTimeout", 30))
                if visibility < 6 * fn.timeout:
                    errors.append(
                        f"{where}: queue {qid} VisibilityTimeout {visibility} < 6 x Timeout {fn.timeout}"
                    )
            elif ev.get("Type") == "HttpApi":
                if st.ref_target(p.get("ApiId")) not in st.resources(t, "AWS::Serverless::HttpApi"):
                    errors.append(f"{where}: ApiId must be !Ref of the template's AWS::Serverless::HttpApi")
                if not str(p.get("Path", "")).startswith("/"):
                    errors.append(f"{where}: Path must start with /")
            elif ev.get("Type") in ("Schedule", "ScheduleV2"):
                expr = str(p.get("Schedule") or p.get("ScheduleExpression") or "")
                if st.rate_seconds(expr) is None and not re.match(r"^cron\(.+\)$", expr):
                    errors.append(f"{where}: schedule {expr!r} is neither rate(...) nor cron(...)")

    errors.extend(check_alerting(t))

    seen: dict[tuple[str, str], str] = {}
    for r in st.http_routes(t):
        key = (r.method, r.path)
        if key in seen:
            errors.append(f"route {r.method} {r.path} declared twice ({seen[key]}, {r.binary})")
        seen[key] = r.binary
    return errors


def check_alerting(t: dict) -> list[str]:
    """DESIGN §8: an `AlertEmail` parameter (default empty) subscribes an address to the alarm
    topic only when set, and alarms watch failed inbound events and failed GHL mappings."""
    errors = []
    resources = t.get("Resources") or {}
    param = (t.get("Parameters") or {}).get("AlertEmail")
    if param is None or param.get("Default") != "":
        errors.append("Parameters.AlertEmail must exist with Default \"\"")
    topics = st.resources(t, "AWS::SNS::Topic")
    subs = [
        (lid, r) for lid, r in resources.items()
        if r.get("Type") == "AWS::SNS::Subscription"
        and (r.get("Properties") or {}).get("Protocol") == "email"
        and st.ref_target((r.get("Properties") or {}).get("Endpoint")) == "AlertEmail"
    ]
    if not subs:
        errors.append("no AWS::SNS::Subscription (Protocol email, Endpoint !Ref AlertEmail)")
    for lid, r in subs:
        if st.ref_target(r["Properties"].get("TopicArn")) not in topics:
            errors.append(f"{lid}: TopicArn must be !Ref of the alarm topic")
        cond = r.get("Condition")
        if not cond or cond not in (t.get("Conditions") or {}):
            errors.append(f"{lid}: needs a Condition (no subscription when AlertEmail is empty)")
    watched = {
        dim.get("Value")
        for r in st.resources(t, "AWS::CloudWatch::Alarm").values()
        if (r.get("Properties") or {}).get("MetricName") == "AlertsRaised"
        for dim in (r.get("Properties") or {}).get("Dimensions") or []
        if dim.get("Name") == "AlertType"
    }
    for kind in ("inbound.event_failed", "ghl.sync_failed"):
        if kind not in watched:
            errors.append(f"no CloudWatch alarm on AlertsRaised for AlertType {kind}")
    return errors


def main() -> None:
    t = st.load()
    crates = crate_names()
    errors = check(t, crates)
    if errors:
        print("template.yaml does not match the workspace:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        sys.exit(1)
    print(
        f"template.yaml OK: {len(crates)} function crates, {len(st.http_routes(t))} HTTP routes, "
        f"{len(st.sqs_sources(t))} SQS sources, {len(st.schedules(t))} schedules"
    )


if __name__ == "__main__":
    main()
