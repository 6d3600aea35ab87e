#!/usr/bin/env python3
"""The operations console (DESIGN §8) in headless Chromium against a running local stack.

    python3 tests/browser/test_console.py          # (or: python3 -m unittest tests/browser/test_console.py)

Needs: `apt-get install -y chromium chromium-driver`, `pip install selenium`, and a stack that is
up (`bash infra/up.sh`: this reads API_URL, API_KEY and WORKSPACE_ID from infra/.local/dev.env).
It signs in, opens every deep link, adds a webhook to a loopback target and sees the test
delivery in its log, adds a Stripe "Webhook Sync" job, posts a signed Stripe event to its URL and
opens the event's raw payload, starts an export, signs out, and checks the browser console
stayed clean. Screenshots of every view go to docs/console/*.png (1280×800, and one at 390×844).

Env: DEV_ENV (default infra/.local/dev.env), CONSOLE_SCREENSHOTS (default docs/console; empty =
none), CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER (default /usr/bin/chromedriver).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
import shutil
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = 40

SECTIONS = [
    ("overview", "Overview"),
    ("mock-exams", "Mock exams"),
    ("webhooks", "Webhooks"),
    ("calendar-sync", "Calendar sync"),
    ("sync-jobs", "Sync jobs"),
    ("users", "Users"),
]


def load_env() -> dict[str, str]:
    path = os.environ.get("DEV_ENV", os.path.join(ROOT, "infra", ".local", "dev.env"))
    env = {}
    with open(path) as f:
        for line in f:
            for word in shlex.split(line, comments=True):
                if "=" in word:
                    k, v = word.split("=", 1)
                    env[k] = v
    return env


ENV = load_env()
API = ENV["API_URL"].rstrip("/")
KEY = ENV["API_KEY"]
WORKSPACE = ENV.get("WORKSPACE_ID", "")
SHOTS = os.environ.get("CONSOLE_SCREENSHOTS", os.path.join(ROOT, "docs", "console"))


def api(method: str, path: str, body=None, key: str | None = KEY, raw: bytes | None = None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"raw": text.decode(errors="replace")}


class Target:
    """A loopback endpoint for webhook deliveries: answers 200 and keeps what it got."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                received.append((dict(self.headers), body))
                out = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ConsoleTest(unittest.TestCase):
    driver: webdriver.Chrome
    logs: list[dict]
    state: dict

    @classmethod
    def setUpClass(cls):
        opts = webdriver.ChromeOptions()
        opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800", "--hide-scrollbars"):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        cls.driver = webdriver.Chrome(service=service, options=opts)
        cls.viewport(1280, 800)
        cls.logs = []
        cls.state = {}
        cls.target = Target()
        # Screenshots wait in a temporary directory: a file written under the workspace makes
        # `cargo lambda watch` rebuild and restart every function (tens of seconds) mid-suite.
        cls.shots = tempfile.mkdtemp(prefix="console-shots-")

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.target.close()
        if SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            for name in sorted(os.listdir(cls.shots)):
                shutil.move(os.path.join(cls.shots, name), os.path.join(SHOTS, name))
        shutil.rmtree(cls.shots, ignore_errors=True)

    @classmethod
    def viewport(cls, width: int, height: int, mobile: bool = False):
        cls.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def tearDown(self):
        self.collect_logs()

    # --- helpers ---------------------------------------------------------------------------
    def collect_logs(self):
        try:
            self.logs.extend(self.driver.get_log("browser"))
        except WebDriverException:
            pass

    def wait(self, cond, timeout=WAIT, what="condition"):
        def attempt(d):
            try:
                return cond(d)
            except StaleElementReferenceException:
                return False

        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(attempt, f"timed out waiting for {what}")

    def open(self, hash_: str):
        self.driver.get(f"{API}/console#{hash_}")

    def h1(self) -> str:
        els = [e for e in self.driver.find_elements(By.CSS_SELECTOR, "main h1") if e.is_displayed()]
        return els[0].text if els else ""

    def wait_h1(self, text: str):
        self.wait(lambda d: self.h1() == text, what=f"h1 {text!r}")

    def button(self, text: str, root=None):
        root = root or self.driver
        def find(_):
            for b in root.find_elements(By.XPATH, f".//button[normalize-space()={json.dumps(text)}]"):
                if b.is_displayed() and b.is_enabled():
                    return b
            return False
        return self.wait(find, what=f"button {text!r}")

    def click(self, text: str, root=None):
        self.button(text, root).click()

    def field(self, label: str, root=None):
        root = root or self.driver
        def find(_):
            for lab in root.find_elements(By.XPATH, f".//label[normalize-space()={json.dumps(label)}]"):
                if lab.is_displayed():
                    return self.driver.find_element(By.ID, lab.get_attribute("for"))
            return False
        return self.wait(find, what=f"field {label!r}")

    def dialog(self):
        return self.wait(lambda d: d.find_element(By.ID, "dialog") if d.find_element(By.ID, "dialog").is_displayed() else False, what="dialog")

    def no_loading(self):
        self.wait(lambda d: not [e for e in d.find_elements(By.CSS_SELECTOR, "main .loading") if e.is_displayed()], what="views loaded")

    def shot(self, name: str):
        # Toasts of earlier steps would cover the view; the page is shown from its top.
        self.driver.execute_script("document.getElementById('toasts').replaceChildren(); window.scrollTo(0, 0);")
        time.sleep(0.2)  # let the last paint land
        self.driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def session_storage(self) -> dict:
        return self.driver.execute_script(
            "const o = {}; for (let i = 0; i < sessionStorage.length; i++) { const k = sessionStorage.key(i); o[k] = sessionStorage.getItem(k); } return o;"
        )

    def ensure_signed_in(self):
        # A dialog a failed test left open would hide the page.
        self.driver.execute_script("const d = document.getElementById('dialog'); if (d && d.open) d.close();")
        self.open("/overview")
        if self.driver.find_element(By.ID, "signin").is_displayed():
            self.field("API key").send_keys(KEY)
            self.click("Sign in")
        self.wait_h1("Overview")

    def use_workspace_if_asked(self):
        """The console asks for the workspace id only when GET /api/workspace is missing."""
        def ready(d):
            if [e for e in d.find_elements(By.XPATH, "//label[normalize-space()='Workspace ID']") if e.is_displayed()]:
                return "ask"
            if [b for b in d.find_elements(By.XPATH, "//button[normalize-space()='Add sync job']") if b.is_displayed()]:
                return "ready"
            return False
        if self.wait(ready, what="sync jobs page") == "ask":
            self.field("Workspace ID").send_keys(WORKSPACE)
            self.click("Use workspace")

    # --- the suite (in order) -----------------------------------------------------------
    def test_01_sign_in(self):
        d = self.driver
        self.open("/overview")
        self.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), what="sign-in form")
        self.assertEqual(self.h1(), "", "no view before signing in")
        self.shot("sign-in")
        # A key the API refuses: its message is shown, nothing is stored.
        self.field("API key").send_keys("bsk_not_a_key")
        self.click("Sign in")
        self.wait(lambda d: d.find_element(By.ID, "signin-error").text.strip(), what="sign-in error")
        self.assertEqual(self.session_storage(), {})
        d.get_log("browser")  # the 401 of that refused key is expected in the console
        self.field("API key").clear()
        self.field("API key").send_keys(KEY)
        self.click("Sign in")
        self.wait_h1("Overview")
        self.assertIn(KEY, self.session_storage().values())
        self.assertNotIn(KEY, d.current_url)
        self.assertEqual(d.execute_script("return document.cookie"), "")
        self.assertTrue(d.current_url.endswith("#/overview"), d.current_url)
        nav = [a.text for a in d.find_elements(By.CSS_SELECTOR, "nav.nav a")]
        self.assertEqual(nav, [t for _, t in SECTIONS])

    def test_02_deep_links_land(self):
        self.ensure_signed_in()
        for hash_, title in SECTIONS:
            self.open(f"/{hash_}")
            self.wait_h1(title)
            if hash_ == "sync-jobs":
                self.use_workspace_if_asked()
                self.button("Add sync job")
            self.no_loading()
            self.shot(hash_)
        # A reload keeps the session and lands on the same page.
        self.open("/users")
        self.driver.refresh()
        self.wait_h1("Users")
        # A deep link opened while signed out is kept: signing in lands on it.
        self.driver.execute_script("sessionStorage.clear()")
        self.open("/calendar-sync")
        self.driver.refresh()
        self.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), what="sign-in form")
        self.field("API key").send_keys(KEY)
        self.click("Sign in")
        self.wait_h1("Calendar sync")

    def test_03_webhook_test_send_shows_in_its_log(self):
        self.ensure_signed_in()
        self.open("/webhooks")
        self.wait_h1("Webhooks")
        self.click("Add webhook")
        dlg = self.dialog()
        name = f"Console test {secrets.token_hex(3)}"
        self.field("Name", dlg).send_keys(name)
        self.field("Endpoint URL", dlg).send_keys(self.target.url)
        events = self.field("Events", dlg)
        events.clear()
        events.send_keys("booking.*, webhook.test")
        dlg.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # The secret is shown once, with "Copy".
        secret = self.wait(lambda d: d.find_element(By.ID, "dialog").is_displayed() and d.find_elements(By.CSS_SELECTOR, "#dialog .secret-value"), what="secret")[0].text
        self.assertTrue(secret.startswith("whsec_"), secret)
        self.button("Copy", self.driver.find_element(By.ID, "dialog"))
        self.shot("webhook-secret")
        self.click("Done")
        self.wait(lambda d: re.search(r"#/webhooks/wh_", d.current_url), what="the new webhook's page")
        webhook_id = self.driver.current_url.rsplit("/", 1)[1]
        self.state["webhook_id"] = webhook_id
        self.wait_h1("Webhooks")
        # The deep link of the subscription lands on it too.
        self.open("/overview")
        self.wait_h1("Overview")
        self.open(f"/webhooks/{webhook_id}")
        self.wait_h1("Webhooks")
        self.wait(lambda d: name in d.find_element(By.TAG_NAME, "main").text, what="webhook name")
        before = len(self.target.received)
        self.click("Send test")
        row = self.wait(
            lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, ".delivery-log tbody tr") if "webhook.test" in r.text and "success" in r.text],
            what="the test delivery in the log",
        )[0]
        self.assertIn("200", row.text)
        self.assertGreater(len(self.target.received), before)
        headers, body = self.target.received[-1]
        self.assertIn("webhook-signature", {k.lower() for k in headers})
        self.assertEqual(json.loads(body)["event"], "webhook.test")
        # The row opens its attempt log and response excerpt.
        self.click("Details", row)
        dlg = self.dialog()
        self.assertIn("attempt log", dlg.text.lower())
        self.assertIn('{"ok":true}', dlg.text)
        self.click("Close", dlg)
        # "Rotate secret" asks, then shows the new secret once.
        self.click("Rotate secret")
        self.click("Rotate secret", self.dialog())
        rotated = self.wait(lambda d: d.find_element(By.ID, "dialog").is_displayed() and d.find_elements(By.CSS_SELECTOR, "#dialog .secret-value"), what="rotated secret")[0].text
        self.assertTrue(rotated.startswith("whsec_") and rotated != secret, rotated)
        self.click("Done")
        self.click("Recover")
        self.wait(lambda d: "failed deliveries re-queued" in d.find_element(By.ID, "toasts").text, what="the recover answer")
        # Destructive actions ask first; "Cancel" changes nothing.
        self.click("Disable")
        dlg = self.dialog()
        self.assertIn("Disable this webhook?", dlg.text)
        self.click("Cancel", dlg)
        self.button("Disable")
        self.no_loading()
        self.shot("webhook")
        # Delete asks first too, then goes back to the list.
        self.click("Delete")
        self.click("Delete", self.dialog())
        self.wait(lambda d: d.current_url.endswith("#/webhooks"), what="the list after delete")
        self.wait(lambda d: api("GET", f"/api/admin/webhooks/{webhook_id}")[0] == 404, what="the webhook gone")

    def test_04_stripe_sync_job_event_raw_payload(self):
        self.ensure_signed_in()
        self.open("/sync-jobs")
        self.wait_h1("Sync jobs")
        self.use_workspace_if_asked()
        self.click("Add sync job")
        self.field("Name").send_keys(f"Stripe customers {secrets.token_hex(3)}")
        Select(self.field("Job type")).select_by_visible_text("Webhook Sync")
        self.assertEqual([o.text for o in Select(self.field("Source")).options], ["Stripe", "Close", "Standard Webhooks"])
        Select(self.field("Source")).select_by_visible_text("Stripe")
        self.field("Event filters").send_keys("customer.*")
        self.field("jq transform (optional)").send_keys(".data.object | {id, email, name}")
        secret = "whsec_console_" + secrets.token_hex(12)
        self.field("Signing secret").send_keys(secret)
        self.click("Save sync job")
        saved = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".panel-success"), what="the saved job")[0]
        url = saved.find_element(By.CSS_SELECTOR, ".webhook-url").text
        self.assertEqual(saved.find_element(By.CSS_SELECTOR, ".webhook-secret").text, secret)
        self.assertEqual(len([b for b in saved.find_elements(By.TAG_NAME, "button") if b.text == "Copy"]), 2)
        self.assertIn("Dashboard → Developers → Webhooks", saved.text)
        self.assertTrue(url.startswith(API + "/api/webhooks/"), url)
        self.shot("sync-job-saved")
        job_id = url.rstrip("/").rsplit("/", 1)[1]

        evt = f"evt_console_{secrets.token_hex(6)}"
        now = int(time.time())
        body = json.dumps({
            "id": evt, "object": "event", "type": "customer.created", "created": now,
            "data": {"object": {"id": f"cus_{secrets.token_hex(5)}", "object": "customer", "email": "ada@example.com", "name": "Ada Lovelace"}},
        }).encode()
        sig = hmac.new(secret.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
        status, answer = api("POST", url[len(API):], raw=body, key=None, headers={"Stripe-Signature": f"t={now},v1={sig}"})
        self.assertEqual(status, 200, answer)
        event_id = answer["eventId"]

        saved.find_element(By.LINK_TEXT, "Open the job").click()
        self.wait(lambda d: d.current_url.endswith(f"#/sync-jobs/{job_id}"), what="the job page")
        self.wait_h1("Sync jobs")
        link = self.wait(lambda d: [a for a in d.find_elements(By.CSS_SELECTOR, "a.event-link") if a.get_attribute("href").endswith(event_id)], what="the event row")[0]
        self.assertEqual(link.text, "customer.created")
        page = self.driver.find_element(By.TAG_NAME, "main").text
        self.assertIn(".data.object | {id, email, name}", page)
        self.assertIn("Built-in records", page)
        self.no_loading()
        self.shot("sync-job")
        self.click("Send test")
        self.wait(lambda d: re.search(r"received as iev_", d.find_element(By.ID, "toasts").text), what="the test event")
        self.click("Replay")
        self.wait(lambda d: "events re-queued" in d.find_element(By.ID, "toasts").text, what="the replay answer")
        link = self.wait(lambda d: [a for a in d.find_elements(By.CSS_SELECTOR, "a.event-link") if a.get_attribute("href").endswith(event_id)], what="the event row")[0]
        link.click()
        self.wait(lambda d: d.current_url.endswith(f"#/sync-jobs/{job_id}/events/{event_id}"), what="the event page")
        raw = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "pre.raw-payload"), what="the raw payload")[0].text
        self.assertIn(evt, raw)
        self.assertIn('\n  "data": {', raw, "pretty-printed")
        self.assertEqual(json.loads(raw)["id"], evt)
        headers = self.driver.find_element(By.XPATH, "//section[.//h2[normalize-space()='Headers']]").text.lower()
        self.assertIn("content-type", headers)
        self.shot("sync-job-event")
        # The event's deep link lands on it after a reload too.
        self.driver.refresh()
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "pre.raw-payload"), what="the raw payload after a reload")
        api("DELETE", f"/api/workspaces/{url.split('/')[-2]}/sync-jobs/{job_id}")

    def test_05_exams_calendar_users_and_export(self):
        self.ensure_signed_in()
        exam = f"9{secrets.randbelow(10**9)}"
        status, answer = api("PUT", f"/api/mock-exams/{exam}", {"name": "Console mock exam", "capacity": 12})
        self.assertEqual(status, 200, answer)
        self.open(f"/mock-exams/{exam}")
        self.wait_h1("Mock exams")
        self.wait(lambda d: "Console mock exam" in d.find_element(By.TAG_NAME, "main").text, what="the exam")
        self.button("Send count to HubSpot")
        self.no_loading()
        self.shot("mock-exam")

        email = f"console.{secrets.token_hex(4)}@example.com"
        status, answer = api("POST", "/api/users", {"firstName": "Grace", "lastName": "Hopper", "email": email, "tags": ["vip"], "exportConsent": {"given": True}})
        self.assertIn(status, (200, 201), answer)
        self.open("/users")
        self.wait_h1("Users")
        self.field("Search").send_keys(email)
        self.click("Apply filters")
        self.wait(lambda d: email in d.find_element(By.TAG_NAME, "main").text, what="the user row")
        Select(self.field("Format")).select_by_visible_text("CSV")
        self.click("Start export")
        self.wait(lambda d: d.find_elements(By.LINK_TEXT, "Download"), timeout=60, what="the export's download link")
        self.assertRegex(self.driver.find_element(By.CSS_SELECTOR, ".export-rows").text, r"\d+ rows written")
        self.no_loading()
        self.shot("users-export")

        self.open("/overview")
        self.wait_h1("Overview")
        self.viewport(390, 844, mobile=True)
        try:
            self.no_loading()
            self.shot("overview-390x844")
            self.open("/webhooks")
            self.wait_h1("Webhooks")
            self.no_loading()
            self.assertLessEqual(self.driver.execute_script("return document.documentElement.scrollWidth"), 390, "no sideways scroll of the page")
        finally:
            self.viewport(1280, 800)

    def test_06_sign_out_clears_the_session(self):
        # A key the API stops accepting ends the session: back to sign-in, with its message.
        self.ensure_signed_in()
        self.driver.execute_script("sessionStorage.setItem('bookingSync.apiKey', 'bsk_revoked_key')")
        self.open("/webhooks")
        self.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), what="sign-in after a 401")
        self.assertIn("Signed out", self.driver.find_element(By.ID, "signin-error").text)
        self.assertEqual(self.session_storage(), {})
        # The 401s of that key are expected in the console: drain them, including those of
        # requests still in flight when the first 401 ended the session.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.driver.get_log("browser")
            time.sleep(0.25)
        self.field("API key").send_keys(KEY)
        self.click("Sign in")
        self.wait_h1("Webhooks")
        self.click("Sign out")
        self.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), what="sign-in form")
        self.assertEqual(self.session_storage(), {})
        self.assertEqual(self.h1(), "")
        self.open("/webhooks")
        self.wait(lambda d: d.find_element(By.ID, "signin").is_displayed(), what="sign-in form")
        self.assertEqual(self.h1(), "")

    def test_07_a_failed_ghl_sync_is_retried_from_the_dashboard(self):
        # GHL is "down": a loopback port nobody listens on (connection refused), no retries.
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}/ghl"
        status, answer = api("PUT", "/api/integrations/ghl", {"webhookUrl": dead, "enabled": True, "retryAttempts": 0, "retryDelay": 1})
        self.assertEqual(status, 200, answer)
        try:
            status, answer = api("POST", "/api/calendar-events", {
                "eventType": "onboarding", "eventTitle": "Console onboarding call",
                "startDate": "2026-12-03", "endDate": "2026-12-03", "startTime": "09:00", "endTime": "09:30",
                "clientId": "client-console", "clientName": "Console client",
            })
            self.assertEqual(status, 201, answer)
            event_id = answer["event"]["id"]
            deadline = time.monotonic() + WAIT
            while True:
                status, answer = api("GET", "/api/admin/sync-mappings?status=failed&limit=100")
                self.assertEqual(status, 200, answer)
                if any(m.get("sentraEventId") == event_id for m in answer["mappings"]):
                    break
                self.assertLess(time.monotonic(), deadline, "the mapping did not become failed")
                time.sleep(0.5)
            self.ensure_signed_in()
            self.open("/calendar-sync")
            self.wait_h1("Calendar sync")
            self.wait(lambda d: "Console onboarding call" in d.find_element(By.TAG_NAME, "main").text or event_id in d.find_element(By.TAG_NAME, "main").text, what="the failed mapping")
            self.no_loading()
            self.shot("calendar-sync-failed")
            self.click("Retry failed syncs")
            self.wait(lambda d: re.search(r"[1-9]\d* failed syncs re-queued", d.find_element(By.ID, "toasts").text), what="the retry's answer")
        finally:
            api("PUT", "/api/integrations/ghl", {"webhookUrl": dead, "enabled": False, "retryAttempts": 0, "retryDelay": 1})

    def test_99_no_browser_console_errors(self):
        self.collect_logs()
        errors = [e for e in self.logs if e.get("level") in ("SEVERE", "ERROR")]
        self.assertEqual(errors, [], "browser console errors")


if __name__ == "__main__":
    unittest.main(verbosity=2)
