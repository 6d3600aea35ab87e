#!/usr/bin/env python3
"""Checks docs/openapi.json (served as GET /api/openapi.json) against template.yaml:

- every route (method + path) of the template's HttpApi events is an operation of the
  document, and the document names no route the template lacks (paths are the full routes,
  parameter names as the template spells them, e.g. /console/{proxy+});
- every `$ref` resolves inside the document (no external references);
- every `{param}` of a path is declared as a required path parameter of each of its operations,
  and no operation declares a path parameter its path does not have;
- operationIds are unique, and every 4xx/5xx JSON answer uses the shared `Error` schema;
- the document is valid OpenAPI 3.1 (openapi-spec-validator; `need_openapi_validator` in
  infra/deps.sh installs it).

Usage: python3 infra/checks/check_openapi.py [--document PATH] [--template PATH]
Exit 1 listing each problem.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, Iterator

# The local stack's modules (samtemplate, ...) live in infra/stack/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stack"))

import samtemplate as st  # noqa: E402

DOCUMENT_PATH = os.path.join(st.REPO_ROOT, "docs", "openapi.json")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_REF = "#/components/schemas/Error"
_PARAM = re.compile(r"\{([^{}]+)\}")


def template_routes(template_path: str) -> set[tuple[str, str]]:
    """(METHOD, path) of every HttpApi event of the template."""
    return {(r.method, r.path) for r in st.http_routes(st.load(template_path))}


def document_routes(doc: dict) -> set[tuple[str, str]]:
    out = set()
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and method in item:
                out.add((method.upper(), path))
    return out


def _walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, node) of every object and list in `node`."""
    yield where, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{where}/{str(k).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{where}/{i}")


def resolve(doc: dict, ref: str) -> Any:
    """The node a local `#/…` reference points at; KeyError when it points nowhere."""
    if not ref.startswith("#"):
        raise KeyError(ref)
    node: Any = doc
    for raw in ref[1:].split("/")[1:] if ref != "#" else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(ref)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def _deref(doc: dict, node: Any) -> Any:
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            return None
        seen.add(ref)
        try:
            node = resolve(doc, ref)
        except KeyError:
            return None
    return node


def ref_problems(doc: dict) -> list[str]:
    problems = []
    for where, node in _walk(doc):
        if isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                problems.append(f"{where}: $ref {ref!r} is not a reference inside this document")
                continue
            try:
                resolve(doc, ref)
            except KeyError:
                problems.append(f"{where}: $ref {ref} does not resolve")
    return problems


def parameter_problems(doc: dict) -> list[str]:
    problems = []
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        in_path = _PARAM.findall(path)
        if len(set(in_path)) != len(in_path):
            problems.append(f"{path}: a path parameter appears twice")
        shared = item.get("parameters") or []
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            declared: dict[str, dict] = {}
            for p in list(shared) + list(op.get("parameters") or []):
                p = _deref(doc, p)
                if isinstance(p, dict) and p.get("in") == "path":
                    declared[str(p.get("name"))] = p
            for name in in_path:
                p = declared.get(name)
                if p is None:
                    problems.append(f"{method.upper()} {path}: path parameter {{{name}}} is not declared")
                elif p.get("required") is not True:
                    problems.append(f"{method.upper()} {path}: path parameter {{{name}}} must be required: true")
            for name in sorted(set(declared) - set(in_path)):
                problems.append(f"{method.upper()} {path}: declares path parameter {name!r} that the path does not have")
    return problems


def operation_problems(doc: dict) -> list[str]:
    problems = []
    seen: dict[str, str] = {}
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            if not isinstance(op, dict):
                continue
            where = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if not op_id:
                problems.append(f"{where}: no operationId")
            elif op_id in seen:
                problems.append(f"{where}: operationId {op_id!r} is also used by {seen[op_id]}")
            else:
                seen[op_id] = where
            for status, response in (op.get("responses") or {}).items():
                if str(status)[:1] not in ("4", "5"):
                    continue
                response = _deref(doc, response) or {}
                schema = (((response.get("content") or {}).get("application/json")) or {}).get("schema")
                if not (isinstance(schema, dict) and schema.get("$ref") == ERROR_REF):
                    problems.append(f"{where}: response {status} must be application/json with schema {ERROR_REF}")
    return problems


def spec_problems(doc: dict) -> list[str]:
    """What openapi-spec-validator finds (OpenAPI 3.1)."""
    if not str(doc.get("openapi", "")).startswith("3.1"):
        return [f"openapi is {doc.get('openapi')!r}, expected 3.1.x"]
    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator
    except ImportError:
        return ["openapi-spec-validator is not installed (bash -c '. infra/deps.sh; need_openapi_validator')"]
    problems = []
    try:
        for e in OpenAPIV31SpecValidator(doc).iter_errors():
            path = "/".join(str(p) for p in getattr(e, "path", []) or [])
            problems.append(f"not valid OpenAPI 3.1: {e.message if hasattr(e, 'message') else e}" + (f" (at {path})" if path else ""))
    except Exception as e:  # noqa: BLE001 - the validator raises on what it cannot walk
        problems.append(f"not valid OpenAPI 3.1: {type(e).__name__}: {e}")
    return problems


def check(doc: dict, routes: set[tuple[str, str]]) -> list[str]:
    problems = []
    documented = document_routes(doc)
    for method, path in sorted(routes - documented, key=lambda r: (r[1], r[0])):
        problems.append(f"route {method} {path} of template.yaml is missing from the document")
    for method, path in sorted(documented - routes, key=lambda r: (r[1], r[0])):
        problems.append(f"the document names {method} {path}, which template.yaml does not route")
    refs = ref_problems(doc)
    problems += refs
    problems += parameter_problems(doc)
    problems += operation_problems(doc)
    # The validator cannot walk a document with dangling references: those are listed above.
    if not refs:
        problems += spec_problems(doc)
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--document", default=DOCUMENT_PATH)
    ap.add_argument("--template", default=st.TEMPLATE_PATH)
    args = ap.parse_args(argv)
    try:
        with open(args.document, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{args.document}: cannot be read as JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(doc, dict):
        print(f"{args.document}: not a JSON object", file=sys.stderr)
        return 1
    routes = template_routes(args.template)
    problems = check(doc, routes)
    name = os.path.relpath(args.document, st.REPO_ROOT) if args.document.startswith(st.REPO_ROOT) else args.document
    if problems:
        print(f"{name} does not match template.yaml or is not valid OpenAPI 3.1:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    ops = document_routes(doc)
    schemas = len(((doc.get("components") or {}).get("schemas")) or {})
    print(f"{name} OK: {len(doc.get('paths') or {})} paths, {len(ops)} operations (= the {len(routes)} routes of template.yaml), {schemas} schemas, valid OpenAPI {doc['openapi']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
