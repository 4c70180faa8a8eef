"""The built-in console in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, against a real name server, broker and ``mqconsole``, with the official
Java client producing and consuming. Every page is opened (a screenshot of each is kept under
test-artifacts/console/, not committed); a topic is created, a message sent and found by key,
the lag of a group falls to 0 as the Java consumer drains it and rises again after an offset
reset, a dead letter is resent to its group; and bad input (unknown names, a 10 MB body, script
in names and bodies, a broker that dies) gets a page that says so."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import BIN, ROOT, ServerProcess, free_port, start_broker, start_namesrv, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
from clients import messages, run_java_driver, start_java_driver  # noqa: E402

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("console")
    ns = start_namesrv(home / "ns")
    broker = start_broker(home / "broker", ns.addr)
    port = free_port()
    console = ServerProcess(["bash", str(BIN / "mqconsole"), "-n", ns.addr, f"--consolePort={port}"],
                            home / "console", "The console boot success")
    console.wait_ready()
    try:
        yield ns, broker, f"http://127.0.0.1:{port}"
    finally:
        console.kill()
        broker.kill()
        ns.kill()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: run tests/interop/setup.sh (make test does)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    def __init__(self, driver, base: str) -> None:  # noqa: ANN001
        self.driver, self.base = driver, base

    def open(self, path: str, shot: str | None = None) -> None:
        self.driver.get(self.base + path)
        if shot:
            self.driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))

    def text(self, css: str = "body") -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def fill(self, form: str, **values: str) -> None:
        from selenium.webdriver.common.by import By

        for name, value in values.items():
            field = self.driver.find_element(By.CSS_SELECTOR, f"#{form} [name={name}]")
            if field.tag_name == "select":
                from selenium.webdriver.support.ui import Select

                Select(field).select_by_visible_text(value)
            else:
                field.clear()
                self.driver.execute_script("arguments[0].value = arguments[1];", field, value)
        self.driver.execute_script("window.pocketmqOldPage = true;")
        self.driver.find_element(By.CSS_SELECTOR, f"#{form} button[type=submit]").click()
        self.wait_for_new_page()

    def wait_for_new_page(self) -> None:
        """Waits until the page the form posted to has loaded. A marker set on the old window
        object is gone in the new document; chromedriver can answer a query made mid-navigation
        with an inspector error instead of a stale element, so such errors are retried."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def loaded(driver) -> bool:  # noqa: ANN001
            return bool(driver.execute_script(
                "return window.pocketmqOldPage === undefined && document.readyState === 'complete';"))
        WebDriverWait(self.driver, 60, ignored_exceptions=(WebDriverException,)).until(loaded)

    def wait_text(self, css: str, needle: str, timeout: float = 30, reload: bool = False,
                  exact: bool = False) -> str:
        def found() -> str | None:
            if reload:
                self.driver.refresh()
            try:
                text = self.text(css)
            except Exception:
                return None
            return text if (text == needle if exact else needle in text) else None
        return wait_until(found, timeout, 0.5, f"{needle!r} in {css}")


def test_every_page_and_the_main_actions(cluster, browser) -> None:
    ns, broker, base = cluster
    page = Page(browser, base)
    for path, name in (("/", "cluster"), ("/topics", "topics"), ("/groups", "groups"), ("/messages", "messages"),
                       ("/dlq", "dlq"), ("/send", "send")):
        page.open(path, name)
        assert "PocketMQ console" in browser.title and "Traceback" not in page.text()
    page.open("/")
    assert broker.addr in page.text("#brokers") and "up" in page.text("#brokers")
    page.wait_text("#tps-chart", "putTps")                          # the live charts have drawn a point
    page.wait_text("#latency-chart", "putLatencyMs")

    page.open("/topics")
    page.fill("create-topic", topic="ConsoleT", queues="4")
    assert "topic ConsoleT saved" in page.text("#notice")
    assert len(page.text("#queues").splitlines()) == 1 + 4
    page.open("/topic/ConsoleT", "topic")

    page.open("/send?topic=ConsoleT")
    page.fill("send-form", keys="console-key", tags="TagC", body="hello from the console")
    assert "SEND_OK" in page.text("#send-result")

    page.open("/messages?topic=ConsoleT")
    page.fill("by-key", key="console-key")
    assert "console-key" in page.text("#results")
    page.driver.find_element("css selector", "#results a").click()
    assert page.text("#body") == "hello from the console"
    page.driver.save_screenshot(str(ARTIFACTS / "message.png"))


def test_lag_falls_to_zero_then_rises_after_a_reset(cluster, browser) -> None:
    ns, broker, base = cluster
    page = Page(browser, base)
    run_java_driver(["admin", "create-topic", "--topic", "LagT", "--broker-addr", broker.addr, "--queues", "2"],
                    namesrv=ns.addr)
    before_send = int(time.time() * 1000) - 1000
    run_java_driver(["produce", "--topic", "LagT", "--count", "100"], namesrv=ns.addr)
    consumer = ["push-consume", "--topic", "LagT", "--group", "LagG", "--from", "first"]
    run_java_driver([*consumer, "--count", "100", "--timeout", "60"], namesrv=ns.addr)  # offsets committed
    run_java_driver(["produce", "--topic", "LagT", "--count", "100"], namesrv=ns.addr)  # while nobody consumes
    page.open("/group/LagG")
    page.wait_text("#total-lag", "100", reload=True, exact=True)
    page.driver.save_screenshot(str(ARTIFACTS / "group-lag.png"))
    # 100 to drain, then all 200 again after the reset to before the first send
    with start_java_driver([*consumer, "--count", "300", "--timeout", "120"], namesrv=ns.addr) as draining:
        page.wait_text("#total-lag", "0", reload=True, exact=True, timeout=60)   # drained
        assert "LagT" in page.text("#subscriptions")
        page.fill("reset-offset", topic="LagT", time=str(before_send))
        assert "offsets of 2 queues reset" in page.text("#notice")
        draining.wait_for(lambda evs: len(messages(evs)) >= 300, 60)          # everything consumed again
        page.wait_text("#total-lag", "0", reload=True, exact=True)
        page.wait_text("#lag-chart", "lag: 0")                                # the live chart agrees


def test_dead_letter_is_resent_to_its_group(cluster, browser) -> None:
    ns, broker, base = cluster
    page = Page(browser, base)
    run_java_driver(["admin", "create-topic", "--topic", "DlqT", "--broker-addr", broker.addr, "--queues", "1"],
                    namesrv=ns.addr)
    run_java_driver(["produce", "--topic", "DlqT", "--count", "1", "--keys", "dead-{i}", "--body", "to the DLQ"],
                    namesrv=ns.addr)
    # Fails the first delivery with no retries allowed: the broker moves it to %DLQ%DlqG at once.
    with start_java_driver(["push-consume", "--topic", "DlqT", "--group", "DlqG", "--count", "1", "--timeout", "60",
                            "--from", "first", "--reconsume-once", "--max-reconsume", "0"], namesrv=ns.addr) as first:
        first.wait_for(lambda evs: any(e.get("status") == "RECONSUME_LATER" for e in evs), 60)
        page.open("/dlq")
        page.wait_text("#dlq", "%DLQ%DlqG", reload=True)
    page.driver.save_screenshot(str(ARTIFACTS / "dlq-with-letter.png"))
    page.driver.find_element("css selector", "#dlq a").click()
    page.wait_text("#results", "dead-0", reload=True)
    page.driver.find_element("css selector", "#results a").click()
    with start_java_driver(["push-consume", "--topic", "DlqT", "--group", "DlqG", "--count", "1", "--timeout", "60",
                            "--from", "first"], namesrv=ns.addr) as second:
        second.wait_for("started", 30)
        page.fill("resend", group="DlqG")
        assert "resent to DlqG" in page.text("#notice")
        got = messages(second.wait_for(lambda evs: len(messages(evs)) >= 1, 60))
        assert got[0]["body"] == "to the DLQ" and got[0]["topic"] == "DlqT"


def test_bad_input_gets_a_page_that_says_so(cluster, browser) -> None:
    ns, broker, base = cluster
    page = Page(browser, base)
    page.open("/topic/NoSuchTopic")
    assert "no such topic" in page.text("#error")
    page.open("/group/NoSuchGroup")
    assert "NoSuchGroup" in page.text("#error")
    page.open("/messages?id=not-an-id")
    assert "not an offset message id" in page.text("#error")

    script = "<script>document.title='pwned'</script>"
    page.open("/topics")
    page.fill("create-topic", topic=script)
    assert "not saved" in page.text("#error") and script in page.text("#error")   # shown as text
    page.open("/send?topic=ConsoleT")
    page.fill("send-form", keys="xss-key", body=script)
    page.open("/messages?topic=ConsoleT&key=xss-key")
    page.driver.find_element("css selector", "#results a").click()
    assert page.text("#body") == script and browser.title != "pwned"

    page.open("/send?topic=ConsoleT")
    page.fill("send-form", body="x" * (10 * 1024 * 1024))
    assert "too large" in page.text("#error")
    page.driver.save_screenshot(str(ARTIFACTS / "too-large.png"))


def test_a_broker_that_stops_answering_while_a_page_is_open(cluster, browser, tmp_path) -> None:
    """SIGSTOP: the broker's connections stay open and nothing answers (the hard case; a killed
    broker's connections reset and the name server drops it at once)."""
    ns, _, base = cluster
    extra = start_broker(tmp_path / "doomed", ns.addr, name="broker-doomed")
    page = Page(browser, base)
    try:
        page.open("/")
        page.wait_text("#brokers", extra.addr)
        extra.proc.send_signal(signal.SIGSTOP)
        page.wait_text("#live-status", f"unreachable: {extra.addr}", timeout=60)   # the open page says so
        page.open("/", "broker-down")                       # a page load is bounded by the admin timeout
        assert "unreachable" in page.text("#brokers") and "up" in page.text("#brokers")
    finally:
        extra.proc.send_signal(signal.SIGCONT)
        extra.kill()
