"""Tests of infra/checks/check_openapi.py: it passes on docs/openapi.json and catches a route
missing from the document, a route the template lacks, a dangling $ref and an undeclared path
parameter (each on a modified copy of the document in a temporary directory).
Run: python3 -m unittest discover -s infra/checks -p 'test_*.py'   (or python3 infra/checks/test_openapi.py)
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

CHECKS = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(CHECKS, "check_openapi.py")
DOCUMENT = os.path.join(os.path.dirname(os.path.dirname(CHECKS)), "docs", "openapi.json")


class CheckOpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        with open(DOCUMENT, encoding="utf-8") as f:
            cls.doc = json.load(f)

    def run_check(self, doc: dict | None = None) -> subprocess.CompletedProcess:
        """Runs the script as CI does, on `doc` written to a temporary copy (None: the real one)."""
        args = [sys.executable, SCRIPT]
        with tempfile.TemporaryDirectory() as tmp:
            if doc is not None:
                path = os.path.join(tmp, "openapi.json")
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(doc, f)
                args += ["--document", path]
            return subprocess.run(args, capture_output=True, text=True, timeout=120)

    def modified(self) -> dict:
        return copy.deepcopy(self.doc)

    def assert_fails_with(self, doc: dict, *needles: str) -> None:
        r = self.run_check(doc)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for needle in needles:
            self.assertIn(needle, r.stderr)

    def test_the_real_document_passes(self) -> None:
        r = self.run_check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("valid OpenAPI 3.1", r.stdout)

    def test_a_route_missing_from_the_document_fails(self) -> None:
        doc = self.modified()
        del doc["paths"]["/api/bookings/{id}"]["delete"]
        self.assert_fails_with(doc, "route DELETE /api/bookings/{id} of template.yaml is missing from the document")

    def test_a_route_the_template_lacks_fails(self) -> None:
        doc = self.modified()
        extra = copy.deepcopy(doc["paths"]["/api/health"]["get"])
        extra["operationId"] = "getStatus"
        doc["paths"]["/api/status"] = {"get": extra}
        self.assert_fails_with(doc, "the document names GET /api/status, which template.yaml does not route")

    def test_a_dangling_ref_fails(self) -> None:
        doc = self.modified()
        del doc["components"]["schemas"]["Booking"]
        self.assert_fails_with(doc, "$ref #/components/schemas/Booking does not resolve")

    def test_an_undeclared_path_parameter_fails(self) -> None:
        doc = self.modified()
        doc["paths"]["/api/users/{id}"]["get"]["parameters"] = []
        self.assert_fails_with(doc, "GET /api/users/{id}: path parameter {id} is not declared")


if __name__ == "__main__":
    unittest.main()
