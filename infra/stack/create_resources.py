#!/usr/bin/env python3
"""Create the template's DynamoDB tables, SQS queues and S3 buckets on the local moto servers.

Reads template.yaml (AWS::DynamoDB::Table, AWS::SQS::Queue, AWS::S3::Bucket) so local and
deployed definitions cannot drift. Creates only what is missing, so a second run is safe.

Endpoints come from AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_S3.
Prints shell `KEY=value` lines on stdout (logs go to stderr):
  - every function environment variable of the template that is a !Ref / !GetAtt to one of
    these resources, resolved to the local value (TABLE_NAME, DELIVERY_QUEUE_URL, EXPORT_BUCKET...)
  - <QUEUE>_URL for every queue, DLQs included (DELIVERY_DLQ_URL, ...)
  - literal variables a function sets itself (not Globals'), unless the environment has them
"""
from __future__ import annotations

import json
import os
import shlex

import samtemplate as st
from stackutil import aws_client, logger


log = logger("create_resources")


# ------------------------------------------------------------------ DynamoDB
def create_tables(t: dict, ddb) -> dict[str, dict]:
    """Returns {logical_id: {"Ref": name, "Arn": arn, "StreamArn": ...}}."""
    existing = set(ddb.list_tables().get("TableNames", []))
    out = {}
    for lid, res in st.resources(t, "AWS::DynamoDB::Table").items():
        p = res.get("Properties") or {}
        name = st.local_name(lid, "AWS::DynamoDB::Table")
        if name not in existing:
            args = {
                "TableName": name,
                "AttributeDefinitions": p["AttributeDefinitions"],
                "KeySchema": p["KeySchema"],
                "BillingMode": p.get("BillingMode", "PROVISIONED"),
            }
            if args["BillingMode"] != "PAY_PER_REQUEST":
                args["ProvisionedThroughput"] = p["ProvisionedThroughput"]
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if p.get(key):
                    args[key] = [
                        {k: v for k, v in idx.items() if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")}
                        for idx in p[key]
                    ]
            if p.get("StreamSpecification"):
                args["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
            ddb.create_table(**args)
            ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
            log(f"table {name} created")
        else:
            log(f"table {name} exists")
        ttl = p.get("TimeToLiveSpecification") or {}
        if ttl.get("Enabled"):
            current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
                log(f"table {name}: TTL on {ttl['AttributeName']}")
        desc = ddb.describe_table(TableName=name)["Table"]
        out[lid] = {"Ref": name, "Arn": desc["TableArn"], "StreamArn": desc.get("LatestStreamArn", "")}
    return out


# ------------------------------------------------------------------ SQS
_QUEUE_ATTRS = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def create_queues(t: dict, sqs) -> dict[str, dict]:
    queues = st.resources(t, "AWS::SQS::Queue")
    out: dict[str, dict] = {}

    def ensure(lid: str, seen: tuple = ()) -> dict:
        if lid in out:
            return out[lid]
        if lid in seen:
            raise ValueError(f"redrive cycle at {lid}")
        p = queues[lid].get("Properties") or {}
        name = st.local_name(lid, "AWS::SQS::Queue")
        if p.get("FifoQueue"):
            name += ".fifo"
        attrs = {k: str(p[k]).lower() if isinstance(p[k], bool) else str(p[k]) for k in _QUEUE_ATTRS if k in p}
        redrive = p.get("RedrivePolicy")
        if redrive:
            dlq = ensure(st.ref_target(redrive["deadLetterTargetArn"]), seen + (lid,))
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq["Arn"], "maxReceiveCount": int(redrive["maxReceiveCount"])}
            )
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            if attrs:
                # converge: a queue left by an older template gets the current settings
                sqs.set_queue_attributes(QueueUrl=url, Attributes={k: v for k, v in attrs.items() if k != "FifoQueue"})
            log(f"queue {name} exists")
        except sqs.exceptions.QueueDoesNotExist:
            url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
            log(f"queue {name} created {attrs}")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        out[lid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
        return out[lid]

    for lid in queues:
        ensure(lid)
    return out


# ------------------------------------------------------------------ S3
def create_buckets(t: dict, s3) -> dict[str, dict]:
    out = {}
    for lid, res in st.resources(t, "AWS::S3::Bucket").items():
        p = res.get("Properties") or {}
        name = st.local_name(lid, "AWS::S3::Bucket")
        try:
            s3.head_bucket(Bucket=name)
            log(f"bucket {name} exists")
        except s3.exceptions.ClientError:
            s3.create_bucket(Bucket=name)
            log(f"bucket {name} created")
        rules = []
        for r in ((p.get("LifecycleConfiguration") or {}).get("Rules")) or []:
            rule = {"ID": r.get("Id", "rule"), "Status": r.get("Status", "Enabled"), "Filter": {"Prefix": r.get("Prefix", "")}}
            if "ExpirationInDays" in r:
                rule["Expiration"] = {"Days": int(r["ExpirationInDays"])}
            if "AbortIncompleteMultipartUpload" in r:
                rule["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": int(r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
                }
            rules.append(rule)
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        out[lid] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
    return out


# ------------------------------------------------------------------ env
def emit_env(t: dict, created: dict[str, dict]) -> list[tuple[str, str]]:
    env: dict[str, str] = {}
    for fn in st.functions(t):
        for key, value in fn.properties["Environment"]["Variables"].items():
            target = st.ref_target(value)
            if target in created:
                attr = "Ref" if "Ref" in value else value["Fn::GetAtt"][1]
                env[key] = created[target][attr]
    # A function's own literal settings (e.g. GHL_INLINE_BUDGET_MS: "3000") reach it locally
    # too. All functions share `cargo lambda watch`'s one environment, so a name must not take
    # two values; what the environment already sets (the local stack's overrides, such as
    # ALLOW_PRIVATE_TARGETS=true, or the developer's own) wins. Globals' literals are AWS
    # defaults that the local stack sets itself.
    literals: dict[str, tuple[str, str]] = {}  # name -> (value, function that set it first)
    for lid, res in (t.get("Resources") or {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        own = (((res.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {}
        for key, value in own.items():
            if isinstance(value, (dict, list)) or key in env or key in os.environ:
                continue
            value = str(value).lower() if isinstance(value, bool) else str(value)
            first = literals.setdefault(key, (value, lid))
            if first[0] != value:
                log(f"WARNING {key} is {first[0]!r} in {first[1]} but {value!r} in {lid}: locally all get {first[0]!r}")
    env.update({key: value for key, (value, _) in literals.items()})
    for lid, res in (t.get("Resources") or {}).items():
        if lid in created and res["Type"] == "AWS::SQS::Queue":
            env.setdefault(st.snake_upper(lid) + "_URL", created[lid]["Ref"])
    return sorted(env.items())


def main() -> None:
    t = st.load()
    created: dict[str, dict] = {}
    created.update(create_tables(t, aws_client("dynamodb")))
    created.update(create_queues(t, aws_client("sqs")))
    if st.resources(t, "AWS::S3::Bucket"):
        created.update(create_buckets(t, aws_client("s3")))
    for key, value in emit_env(t, created):
        print(f"{key}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
