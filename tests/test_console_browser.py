"""The web console in a real browser: headless Chromium driven by Selenium against a real
uvicorn (one server and one browser for the module).

Journeys: sign-in with TOTP (enrolled in the console); a buyer order to a shipped posting
(a line split across packages) with its label downloaded and its barcode decoded, the
carrier's act and waybill formed and downloaded, a dispute opened and closed; a stock edit
under the warning line that makes an alert appear; a warehouse-role person who cannot see
analytics or accounts; a product named ``<script>...`` shown as text; a form whose CSRF
token was removed refused. Each page is saved as a screenshot in English and Chinese
(``out/console-screenshots/``, or ``PEAKLINE_SCREENSHOTS``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import update

from reference_backend.db import Database
from reference_backend.permissions import Role
from reference_backend.settings import Settings
from reference_backend.tables import Seller
from tests.backend_support import ROOT, free_port, seller_headers
from tests.console_support import ConsoleWorld, console_world

aiosmtpd = pytest.importorskip("aiosmtpd.controller")
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("PEAKLINE_SCREENSHOTS", ROOT / "out" / "console-screenshots"))
SCRIPT_NAME = "<script>alert(1)</script> Kettle"

pytestmark = [
    pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                       reason="needs chromium and chromedriver (apt-get install chromium "
                              "chromium-driver)"),
    pytest.mark.timeout(400),
]


class Inbox:
    """A real SMTP server's handler (aiosmtpd): keeps every message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content,  # type: ignore[attr-defined]
                                                policy=policy.default))
        return "250 OK"


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    smtp = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    handler.port = smtp.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        smtp.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[ConsoleWorld]:
    w = console_world(tmp_path_factory.mktemp("console-browser"), env={
        "PEAKLINE_SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",  # type: ignore[attr-defined]
        "PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS": "true"})
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "plugins.always_open_pdf_externally": True, "intl.accept_languages": "en-US,en"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {SHOTS}")
    try:
        yield driver
    finally:
        driver.quit()


# --- helpers --------------------------------------------------------------------------------


def shot(browser: webdriver.Chrome, name: str) -> None:
    """Save the whole page (the window grown to the page's height)."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(max(height, 700), 3000))
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    browser.set_window_size(1280, 900)


def both_languages(browser: webdriver.Chrome, world: ConsoleWorld, name: str) -> None:
    """Screenshots of the current page in English and Chinese (the switch in the header)."""
    url = browser.current_url
    shot(browser, f"{name}-en")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "a[hreflang='zh_Hans']"))
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-Hans"
    shot(browser, f"{name}-zh")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "a[hreflang='en']"))
    assert browser.current_url == url


def warning_input(browser: webdriver.Chrome, sku: int) -> object:
    return browser.find_element(
        By.CSS_SELECTOR, f"tr[data-sku='{sku}'] input[name='warning_level']")


def click_and_wait(browser: webdriver.Chrome, element: object) -> None:
    """Click a link or submit button and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()  # type: ignore[attr-defined]

    def replaced(_driver: object) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale, or (Chromium) "does not belong to the document"
            return True
        return False

    WebDriverWait(browser, 30).until(replaced)
    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script("return document.readyState") == "complete")


def open_page(browser: webdriver.Chrome, world: ConsoleWorld, path: str) -> None:
    browser.get(world.base_url + "/console" + path)


def sign_in(browser: webdriver.Chrome, world: ConsoleWorld, role: Role,
            code: str | None = None) -> None:
    sign_in_as(browser, world, *world.people[role], code=code)


def sign_in_as(browser: webdriver.Chrome, world: ConsoleWorld, email: str, password: str,
               code: str | None = None) -> None:
    browser.delete_all_cookies()
    open_page(browser, world, "/sign-in")
    browser.find_element(By.NAME, "email").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    if code:
        browser.find_element(By.NAME, "code").send_keys(code)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#sign-in-form button"))


def heading(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.TAG_NAME, "h1").text


def sections(browser: webdriver.Chrome) -> set[str]:
    return {a.get_attribute("data-section")
            for a in browser.find_elements(By.CSS_SELECTOR, ".sidebar a[data-section]")}


# --- journeys -------------------------------------------------------------------------------


def test_sign_in_with_totp(browser: webdriver.Chrome, world: ConsoleWorld) -> None:
    open_page(browser, world, "/")
    assert "/console/sign-in" in browser.current_url  # signed out: to the sign-in page
    both_languages(browser, world, "01-sign-in")
    sign_in(browser, world, Role.CUSTOMER_SERVICE)
    assert heading(browser) == "Home"
    open_page(browser, world, "/profile/two-factor")
    click_and_wait(browser, browser.find_element(
        By.CSS_SELECTOR, "form[action$='/two-factor/start'] button"))
    secret = browser.find_element(By.ID, "totp-secret").text
    shot(browser, "02-two-factor-set-up-en")
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    qr = Image.open(io.BytesIO(browser.find_element(By.ID, "totp-qr").screenshot_as_png))
    [scanned] = [r.text for r in zxingcpp.read_barcodes(qr)]
    assert scanned.startswith("otpauth://totp/") and f"secret={secret}" in scanned
    totp = pyotp.TOTP(secret)
    browser.find_element(By.NAME, "code").send_keys(totp.at(time.time() - 30))  # last step's
    confirm = browser.find_element(By.CSS_SELECTOR, "form[action$='/confirm'] button")
    click_and_wait(browser, confirm)
    assert "Two-factor sign-in is on" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    click_and_wait(browser, browser.find_element(By.ID, "sign-out"))
    assert "You are signed out" in browser.find_element(By.CSS_SELECTOR, ".notice").text

    sign_in(browser, world, Role.CUSTOMER_SERVICE)  # the password alone is not enough now
    assert "6-digit code" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    assert browser.get_cookie("peakline_session") is None
    shot(browser, "03-sign-in-code-needed-en")
    sign_in(browser, world, Role.CUSTOMER_SERVICE, code="000000")
    assert "wrong" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    sign_in(browser, world, Role.CUSTOMER_SERVICE, code=totp.now())
    assert heading(browser) == "Home"
    cookie = browser.get_cookie("peakline_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "peakline_session" not in browser.execute_script("return document.cookie")


def test_posting_journey_from_buyer_order_to_shipped_with_label(
    browser: webdriver.Chrome, world: ConsoleWorld, downloads: Path
) -> None:
    base = world.creds["sku_base"]
    [posting] = world.order([(base + 11, 2), (base + 12, 1)], region="R-SPB")[:1]
    number = posting["posting_number"]
    sign_in(browser, world, Role.OWNER)
    both_languages(browser, world, "04-home")
    open_page(browser, world, "/postings?status=awaiting_packaging")
    both_languages(browser, world, "05-postings")
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-posting='{number}']")
    assert "awaiting_packaging" in row.text
    click_and_wait(browser, row.find_element(By.LINK_TEXT, number))
    assert number in heading(browser)
    both_languages(browser, world, "06-posting-to-ship")
    lines = [(int(r.get_attribute("data-sku")), int(r.find_elements(By.TAG_NAME, "td")[1].text))
             for r in browser.find_elements(By.CSS_SELECTOR, "#ship-form tr[data-sku]")]
    packages = 2 if sum(q for _, q in lines) > 1 else 1
    if packages == 2:  # two packages: the first line's last unit (or the second line) in #2
        field = browser.find_element(By.CSS_SELECTOR, "#packages-form input[name='packages']")
        field.clear()
        field.send_keys("2")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#packages-form button"))
        both_languages(browser, world, "06-posting-split-into-packages")
        (sku, quantity), moved = lines[0], 1
        if quantity == 1:
            (sku, quantity), moved = lines[1], lines[1][1]
        for attempt in ((quantity - moved, 0), (quantity - moved, moved)):  # a unit left out
            for box, units in enumerate(attempt, start=1):
                cell = browser.find_element(By.NAME, f"units_{sku}_{box}")
                cell.clear()
                cell.send_keys(str(units))
            if attempt[1] == 0:
                click_and_wait(browser, browser.find_element(By.ID, "ship"))
                error = browser.find_element(By.CSS_SELECTOR, ".notice.error").text
                assert f"SKU {sku}: {quantity - moved} of {quantity} units" in error
                assert "awaiting_packaging" in browser.find_element(By.ID, "posting-status").text
                shot(browser, "06-posting-bad-split-en")
    click_and_wait(browser, browser.find_element(By.ID, "ship"))
    notice = browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert f"Shipped in {packages} package(s)" in notice
    assert "awaiting_deliver" in browser.find_element(By.ID, "posting-status").text
    shipped = heading(browser).split()[-1]
    both_languages(browser, world, "07-posting-shipped")
    history = browser.find_element(By.ID, "history").text
    assert "Ordered" in history

    browser.find_element(By.ID, "label").click()
    pdf_path = downloads / f"label-{shipped}.pdf"
    deadline = time.monotonic() + 30
    while not pdf_path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pdf_path.exists(), list(downloads.iterdir())
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF")
    pdfium = pytest.importorskip("pypdfium2")
    zxingcpp = pytest.importorskip("zxingcpp")
    page = pdfium.PdfDocument(pdf)[0]
    decoded = [r.text for r in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
    assert shipped in decoded

    # the carrier's hand-over documents: form the act of the warehouse, wait, download
    click_and_wait(browser, browser.find_element(By.ID, "to-acts"))  # from the posting
    both_languages(browser, world, "25-acts")
    chosen = Select(browser.find_element(By.NAME, "delivery_method_id")).first_selected_option
    assert chosen.get_attribute("value") == str(posting["warehouse_id"])
    click_and_wait(browser, browser.find_element(By.ID, "form-act"))
    act_id = heading(browser).split()[-1]
    assert f"Act {act_id} is being formed" in browser.find_element(By.CSS_SELECTOR,
                                                                  ".notice").text
    if browser.find_elements(By.ID, "forming"):
        shot(browser, "26-act-forming-en")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "act-pdf"))  # refreshed
    assert "formed" in browser.find_element(By.ID, "act-state").text.lower()
    both_languages(browser, world, "27-act-ready")
    for link, name in (("act-pdf", f"{act_id}.pdf"), ("waybill-pdf", f"{act_id}_waybill.pdf")):
        browser.find_element(By.ID, link).click()
        document = downloads / name
        deadline = time.monotonic() + 30
        while not document.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert document.read_bytes().startswith(b"%PDF"), name
        text = pdfium.PdfDocument(document.read_bytes())[0].get_textpage().get_text_range()
        assert shipped in text, (name, text[:400])

    # a dispute: handed over but not scanned in at sorting, then settled
    open_page(browser, world, f"/postings/{shipped}")
    click_and_wait(browser, browser.find_element(By.ID, "open-dispute"))
    assert "arbitration" in browser.find_element(By.ID, "posting-status").text
    both_languages(browser, world, "28-posting-dispute")
    click_and_wait(browser, browser.find_element(By.ID, "end-dispute"))
    assert "awaiting_deliver" in browser.find_element(By.ID, "posting-status").text


def test_stock_edit_under_the_warning_line_raises_an_alert(
    browser: webdriver.Chrome, world: ConsoleWorld
) -> None:
    sku = world.creds["sku_base"] + 21
    sign_in(browser, world, Role.WAREHOUSE)
    open_page(browser, world, f"/stock/alerts?sku={sku}")
    assert not browser.find_elements(By.CSS_SELECTOR, f"tr[data-sku='{sku}']")
    open_page(browser, world, "/stock")
    both_languages(browser, world, "08-stock")
    open_page(browser, world, f"/stock?sku={sku}")
    row = browser.find_elements(By.CSS_SELECTOR, f"tr[data-sku='{sku}']")[0]
    warehouse = row.get_attribute("data-warehouse")
    line = row.find_element(By.NAME, "warning_level")
    line.clear()
    line.send_keys("5")
    click_and_wait(browser, line.find_element(By.XPATH, "./following-sibling::button"))
    assert "Warning line of SKU" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    pair = f"tr[data-sku='{sku}'][data-warehouse='{warehouse}']"
    row = browser.find_element(By.CSS_SELECTOR, pair)
    units = row.find_element(By.NAME, "available")
    units.clear()
    units.send_keys("2")
    click_and_wait(browser, units.find_element(By.XPATH, "./following-sibling::button"))
    assert f"Stock of SKU {sku} set to 2" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    open_page(browser, world, "/stock/alerts")
    alert = browser.find_element(By.CSS_SELECTOR, pair)
    assert "under the line" in alert.text
    both_languages(browser, world, "09-stock-alerts")
    open_page(browser, world, "/")
    assert int(browser.find_element(By.ID, "alerts").text.rstrip("+").replace(",", "")) >= 1
    # the API sees the same alert
    answer = httpx.get(world.base_url + "/peakline/v1/alerts", params={"sku": sku},
                       headers=seller_headers(world.creds))
    assert [i["warehouse_id"] for i in answer.json()["items"]] == [int(warehouse)]
    for path, name in (("/stock/replenishment", "10-replenishment"), ("/stock/plan", "11-plan")):
        open_page(browser, world, path)
        both_languages(browser, world, name)


def test_warehouse_role_cannot_see_analytics_or_accounts(
    browser: webdriver.Chrome, world: ConsoleWorld
) -> None:
    sign_in(browser, world, Role.WAREHOUSE)
    shown = sections(browser)
    assert {"postings", "stock", "returns"} <= shown
    assert not shown & {"analytics", "accounts"}
    assert not browser.find_elements(By.CSS_SELECTOR, ".tile .change")  # no sales figures
    for path in ("/analytics", "/accounts", "/webhooks"):
        open_page(browser, world, path)
        assert heading(browser) == "Not allowed"
        assert "403" in browser.find_element(By.CSS_SELECTOR, ".status-code").text
    open_page(browser, world, "/stock/alerts")
    shot(browser, "12-warehouse-role-en")


def test_form_without_its_csrf_token_is_refused(
    browser: webdriver.Chrome, world: ConsoleWorld
) -> None:
    sku = world.creds["sku_base"] + 31
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, f"/stock?sku={sku}")
    before = warning_input(browser, sku).get_attribute("value")
    browser.execute_script(
        "document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    line = warning_input(browser, sku)
    line.clear()
    line.send_keys("77")
    click_and_wait(browser, line.find_element(By.XPATH, "./following-sibling::button"))
    assert "security token" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "13-csrf-refused-en")
    open_page(browser, world, f"/stock?sku={sku}")
    after = warning_input(browser, sku).get_attribute("value")
    assert after == before != "77"


def test_product_import_and_a_script_name_shown_as_text(
    browser: webdriver.Chrome, world: ConsoleWorld, tmp_path: Path
) -> None:
    sign_in(browser, world, Role.SALES)
    open_page(browser, world, "/products")
    both_languages(browser, world, "14-products")
    open_page(browser, world, "/products/import")
    csv_file = tmp_path / "products.csv"
    csv_file.write_text(
        "offer_id,name,price,old_price\n"
        f'XSS-1,"{SCRIPT_NAME}",1290.50,1500\n'
        "BAD-1,No price,,\n"
        "SKU-000001,Electronics item 000001 (renamed),990,0\n", encoding="utf-8")
    browser.find_element(By.NAME, "file").send_keys(str(csv_file))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#import-form button"))
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#import-results tbody tr")]
    assert len(rows) == 3
    assert "imported" in rows[0] and "failed" in rows[1] and "price" in rows[1]
    assert "imported" in rows[2]
    shot(browser, "15-product-import-results-en")
    open_page(browser, world, "/products?q=XSS")
    name = browser.find_element(By.CSS_SELECTOR, "#products .product-name")
    assert name.text == SCRIPT_NAME  # the markup shown as text, not run
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "XSS-1"))
    assert browser.find_element(By.CSS_SELECTOR, "dd.product-name").text == SCRIPT_NAME
    price = browser.find_element(By.NAME, "price")
    price.clear()
    price.send_keys("1190")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#price-form button"))
    assert "The price is saved" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    shot(browser, "16-product-en")
    listed = httpx.post(world.base_url + "/v3/product/info/list", json={"offer_id": ["XSS-1"]},
                        headers=seller_headers(world.creds)).json()["items"]
    assert listed[0]["name"] == SCRIPT_NAME and float(listed[0]["price"]) == 1190


def test_owner_analytics_and_accounts(browser: webdriver.Chrome, world: ConsoleWorld) -> None:
    world.order([(world.creds["sku_base"] + 40, 3)])
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, "/analytics")
    assert browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")  # orders were placed
    both_languages(browser, world, "17-analytics")
    open_page(browser, world, "/accounts")
    form = browser.find_element(By.ID, "new-account")
    form.find_element(By.NAME, "email").send_keys("picker@example.com")
    form.find_element(By.NAME, "name").send_keys("Picker")
    form.find_element(By.NAME, "role").send_keys("warehouse")
    form.find_element(By.NAME, "password").send_keys("Picker-2026 pass")
    click_and_wait(browser, form.find_element(By.CSS_SELECTOR, "button"))
    assert "picker@example.com" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    row = browser.find_element(By.XPATH, "//tr[td[text()='picker@example.com']]")
    row.find_element(By.NAME, "name").send_keys("scanner")
    click_and_wait(browser, row.find_element(By.XPATH, ".//button[text()='New key']"))
    key = browser.find_element(By.ID, "api-key").text
    shot(browser, "18-accounts-new-key-en")
    open_page(browser, world, "/accounts")
    assert key not in browser.page_source  # shown once: gone after a reload
    both_languages(browser, world, "18-accounts")
    roles = httpx.post(world.base_url + "/v1/roles", json={},
                       headers={"Client-Id": world.creds["client_id"], "Api-Key": key})
    names = {r["name"] for r in roles.json()["roles"]}
    assert "Stocks" in names and "Analytics" not in names  # the warehouse role's key
    open_page(browser, world, "/webhooks")
    shot(browser, "19-webhooks-en")


def test_returns_and_buyer_chats(browser: webdriver.Chrome, world: ConsoleWorld) -> None:
    number = world.returned(world.creds["sku_base"] + 45)
    chat_id = world.start_chat(number)
    sign_in(browser, world, Role.WAREHOUSE)
    open_page(browser, world, "/returns?status=MovingToSeller")
    row = browser.find_element(By.XPATH, f"//tr[td/a[text()='{number}']]")
    click_and_wait(browser, row.find_element(By.XPATH, ".//button[@value='restock']"))
    assert "refund" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    row = browser.find_element(By.XPATH, f"//tr[td/a[text()='{number}']]")
    assert "ReceivedBySeller" in row.text
    both_languages(browser, world, "20-returns")
    assert "chats" not in sections(browser)  # the warehouse role has no chats
    sign_in(browser, world, Role.SALES)  # sales may read chats, not write
    open_page(browser, world, f"/chats/{chat_id}")
    assert not browser.find_elements(By.ID, "reply")
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, "/chats")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, number))
    browser.find_element(By.NAME, "text").send_keys("Здравствуйте! 您好 <b>thanks</b>")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#reply button"))
    assert "Message sent" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    mine = browser.find_elements(By.CSS_SELECTOR, ".message.mine .text")
    assert mine[-1].text == "Здравствуйте! 您好 <b>thanks</b>"
    both_languages(browser, world, "21-chat")
    open_page(browser, world, "/promotions")
    both_languages(browser, world, "22-promotions")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Winter sale"))
    candidate = browser.find_elements(By.CSS_SELECTOR, "#candidates tr[data-product]")[0]
    product_id = candidate.get_attribute("data-product")
    click_and_wait(browser, candidate.find_element(By.XPATH, ".//button[@value='join']"))
    assert "The promotion is updated" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    assert browser.find_elements(By.CSS_SELECTOR, f"#joined tr[data-product='{product_id}']")
    both_languages(browser, world, "23-promotion")
    joined = httpx.post(world.base_url + "/v1/actions/products", headers=seller_headers(
        world.creds), json={"action_id": world.action_id, "limit": 10}).json()
    assert [p["id"] for p in joined["result"]["products"]] == [int(product_id)]


def test_forgotten_password_by_email(
    browser: webdriver.Chrome, world: ConsoleWorld, inbox: Inbox
) -> None:
    browser.delete_all_cookies()
    open_page(browser, world, "/sign-in")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Forgotten password?"))
    browser.find_element(By.NAME, "email").send_keys("analyst@example.com")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#forgot-form button"))
    assert "on its way" in browser.find_element(By.ID, "reset-sent").text
    shot(browser, "24-forgotten-password-en")
    deadline = time.monotonic() + 30
    while not inbox.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    [mail] = inbox.messages
    assert mail["To"] == "analyst@example.com"
    link = re.search(r"https?://\S+/password-reset/\S+", mail.get_content()).group(0)
    browser.get(link)
    new = "Analyst-new 2026"
    browser.find_element(By.ID, "p1").send_keys(new)
    browser.find_element(By.ID, "p2").send_keys(new)
    browser.find_element(By.CSS_SELECTOR, "#reset button").click()
    WebDriverWait(browser, 20).until(
        lambda b: "password is set" in b.find_element(By.ID, "outcome").text)
    world.people[Role.ANALYST] = ("analyst@example.com", new)
    sign_in(browser, world, Role.ANALYST)
    assert heading(browser) == "Home"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver answering 200."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def plan(world: ConsoleWorld, subscription: str) -> None:
    """Set the seller's subscription (which opens buyer chats or not)."""
    database = Database(world.database_url, Settings(database_url=world.database_url))
    try:
        with database.session() as session:
            session.execute(update(Seller).where(Seller.id == world.creds["seller_id"])
                            .values(subscription=subscription))
    finally:
        database.dispose()


def notice(browser: webdriver.Chrome) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".notice").text


def test_discount_requests_finance_chat_files_profile_and_webhooks(
    browser: webdriver.Chrome, world: ConsoleWorld, tmp_path: Path
) -> None:
    """The back office beyond orders: a buyer's discount request approved and another
    declined, the month's money, a file sent to a buyer and the buyer's message marked
    read, a webhook's secret rotated and a test ping delivered, and a person's own
    password changed (then signing in with it)."""
    sku = world.creds["sku_base"] + 47
    number = world.returned(sku)  # a sale and a return for the finance pages
    price = float(httpx.post(world.base_url + "/v3/product/info/list", json={"sku": [sku]},
                             headers=seller_headers(world.creds)).json()["items"][0]["price"])
    asked = [world.discount_request(sku, round(price * f, 2), (1, 4), comment=c)
             for f, c in ((0.9, "Two for my office"), (0.5, "Half price please"))]
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, "/discount-requests?status=waiting")
    both_languages(browser, world, "25-discount-requests")
    decide = browser.find_element(By.CSS_SELECTOR, f"tr[data-decide='{asked[0]}'] form.approve")
    decide.find_element(By.NAME, "quantity_max").clear()
    decide.find_element(By.NAME, "quantity_max").send_keys("2")
    decide.find_element(By.NAME, "seller_comment").send_keys("Two at this price")
    click_and_wait(browser, decide.find_element(By.TAG_NAME, "button"))
    assert f"Request {asked[0]} approved" in notice(browser)
    refuse = browser.find_element(By.CSS_SELECTOR, f"tr[data-decide='{asked[1]}'] form.decline")
    refuse.find_element(By.NAME, "seller_comment").send_keys("Too low, sorry")
    click_and_wait(browser, refuse.find_element(By.TAG_NAME, "button"))
    assert f"Request {asked[1]} declined" in notice(browser)
    open_page(browser, world, "/discount-requests")
    rows = {r: browser.find_element(By.CSS_SELECTOR, f"tr[data-request='{r}']").text
            for r in asked}
    assert "PARTLY_APPROVED" in rows[asked[0]] and "DECLINED" in rows[asked[1]]
    shot(browser, "26-discount-requests-decided-en")

    open_page(browser, world, "/finance")
    assert browser.find_element(By.CSS_SELECTOR, f"#operations a[href$='{number}']")
    both_languages(browser, world, "27-finance")
    open_page(browser, world, "/finance?from=2026-01-01&to=2026-03-31")
    assert "at most one month" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    shot(browser, "28-finance-period-refused-en")
    open_page(browser, world, "/finance/realization")
    assert browser.find_element(By.CSS_SELECTOR, f"#realization tr[data-sku='{sku}']")
    both_languages(browser, world, "29-realization")

    chat_id = world.start_chat(number)
    world.buyer_message(number, "Is the invoice ready?")
    open_page(browser, world, f"/chats/{chat_id}")
    assert browser.find_elements(By.CSS_SELECTOR, ".message.theirs.unread")
    invoice = tmp_path / "invoice-2026.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice for the buyer")
    browser.find_element(By.CSS_SELECTOR, "#send-file input[name='file']").send_keys(str(invoice))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#send-file button"))
    assert "File sent" in notice(browser)
    link = browser.find_element(By.CSS_SELECTOR, ".message.mine a.file")
    assert "invoice-2026.pdf" in link.text
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#mark-read button"))
    assert "marked read" in notice(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".message.theirs.unread")
    both_languages(browser, world, "30-chat-file")
    plan(world, "NONE")  # without Premium Plus: why, instead of an error page
    try:
        browser.refresh()
        assert "Premium Plus" in browser.find_element(By.ID, "plan-needed").text
        assert not browser.find_elements(By.ID, "send-file")
        both_languages(browser, world, "30-chat-no-subscription")
    finally:
        plan(world, "PREMIUM_PLUS")

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        open_page(browser, world, "/webhooks")
        form = browser.find_element(By.ID, "new-webhook")
        form.find_element(By.NAME, "url").send_keys(
            f"http://127.0.0.1:{receiver.server_address[1]}/ozon/push")
        click_and_wait(browser, form.find_element(By.TAG_NAME, "button"))
        first = browser.find_element(By.ID, "secret").text
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "button.rotate"))
        assert browser.find_element(By.ID, "secret").text not in ("", first)
        shot(browser, "31-webhooks-new-secret-en")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "button.ping"))
        WebDriverWait(browser, 60).until(lambda b: "delivered" in b.find_element(
            By.ID, "ping-result").text)  # the page reloads itself until the ping is sent
        assert "HTTP 200" in browser.find_element(By.ID, "ping-result").text
        both_languages(browser, world, "32-webhooks-ping")
    finally:
        receiver.shutdown()

    email, old, new = "buyer-care@example.com", "Care-team 2026", "Care-team 2027!"
    world.add_person(email, "Care team", "customer_service", old)
    sign_in_as(browser, world, email, old)
    open_page(browser, world, "/profile")
    both_languages(browser, world, "33-profile")
    form = browser.find_element(By.ID, "password-form")
    form.find_element(By.NAME, "current_password").send_keys(old)
    form.find_element(By.NAME, "new_password").send_keys(new)
    form.find_element(By.NAME, "new_password_again").send_keys(new)
    click_and_wait(browser, form.find_element(By.TAG_NAME, "button"))
    assert "password is changed" in notice(browser)
    click_and_wait(browser, browser.find_element(By.ID, "sign-out"))
    sign_in_as(browser, world, email, old)
    assert "wrong" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    sign_in_as(browser, world, email, new)
    assert heading(browser) == "Home"


def switch_language(browser: webdriver.Chrome, lang: str) -> None:
    """Choose the console's language (its cookie) from the current page."""
    if browser.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang.replace("_", "-"):
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, f"a[hreflang='{lang}']"))


def test_many_packages_paged_acts_big_files_translated_refusals_and_a_new_email(
    browser: webdriver.Chrome, world: ConsoleWorld, tmp_path: Path
) -> None:
    """A posting split into 100 packages (a package a row), the acts a page at a time, a
    file over the chat's 5 MiB refused with a page before it is stored, a service's refusal
    in Chinese, and a new sign-in email that needs the current password."""
    base = world.creds["sku_base"]
    posting = max(world.order([(base + n, 40) for n in range(32, 37)]),
                  key=lambda p: sum(line["quantity"] for line in p["products"]))
    number = posting["posting_number"]
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, f"/postings/{number}?packages=100")
    rows = browser.find_elements(By.CSS_SELECTOR, "#ship-form table.by-package tbody tr")
    assert len(rows) == 100 and "Package 100" in rows[-1].get_attribute("textContent")
    both_languages(browser, world, "40-ship-100-packages")

    [other] = world.order([(base + 38, 1)])
    world.ship(other)
    world.form_act(other["warehouse_id"])
    open_page(browser, world, "/acts")
    assert browser.find_elements(By.CSS_SELECTOR, "#acts tr[data-act]")
    both_languages(browser, world, "41-acts-paged")

    open_page(browser, world, "/finance?from=2026-01-01&to=2026-03-31")
    switch_language(browser, "zh_Hans")
    assert "超过一个月" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    shot(browser, "42-finance-refusal-translated-zh")
    switch_language(browser, "en")

    chat_id = world.start_chat(number)
    big = tmp_path / "scan-of-everything.pdf"
    big.write_bytes(b"%PDF-1.4 " + b"0" * (6 * 2**20))
    for lang in ("en", "zh_Hans"):
        open_page(browser, world, f"/chats/{chat_id}")
        switch_language(browser, lang)
        browser.find_element(By.CSS_SELECTOR, "#send-file input[name='file']").send_keys(str(big))
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#send-file button"))
        assert "413" in browser.find_element(By.CSS_SELECTOR, ".status-code").text
        shot(browser, f"43-file-too-large-{lang.split('_')[0]}")
    switch_language(browser, "en")
    open_page(browser, world, f"/chats/{chat_id}")
    assert not browser.find_elements(By.CSS_SELECTOR, ".message.mine a.file")  # not stored

    email, password = "mover@example.com", "Move-house 2026"
    world.add_person(email, "Mover", "analyst", password)
    sign_in_as(browser, world, email, password)
    for lang, current in (("en", "not my password"), ("zh_Hans", "not my password"),
                          ("en", password)):
        open_page(browser, world, "/profile")
        switch_language(browser, lang)
        form = browser.find_element(By.ID, "email-form")
        form.find_element(By.NAME, "email").clear()
        form.find_element(By.NAME, "email").send_keys("moved@example.com")
        form.find_element(By.NAME, "current_password").send_keys(current)
        click_and_wait(browser, form.find_element(By.TAG_NAME, "button"))
        if current != password:
            shot(browser, f"44-profile-email-wrong-password-{lang.split('_')[0]}")
    assert "moved@example.com" in notice(browser)
    both_languages(browser, world, "45-profile-email-changed")


def test_a_webhook_url_check_and_import_row_errors_in_chinese(
    browser: webdriver.Chrome, world: ConsoleWorld, tmp_path: Path
) -> None:
    """Messages made at run time (a webhook URL check's reason, a product CSV's per-row
    errors, from the columns' checks and the catalogue's) read in the page's language."""
    sign_in(browser, world, Role.OWNER)
    open_page(browser, world, "/webhooks")
    switch_language(browser, "zh_Hans")
    form = browser.find_element(By.ID, "new-webhook")
    form.find_element(By.NAME, "url").send_keys("ftp://example.com/hook")
    click_and_wait(browser, form.find_element(By.TAG_NAME, "button"))
    assert "Webhook 网址必须是以 http:// 或 https:// 开头的完整网址" in \
        browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "46-webhook-url-refused-zh")

    csv_file = tmp_path / "products.csv"
    csv_file.write_text("offer_id,name,price,old_price,weight\n"
                        "ZH-1,Kettle,abc,,1\n"
                        "ZH-2,Kettle,100,90,-1\n"
                        "ZH-3,Kettle,0,,1\n", encoding="utf-8")
    open_page(browser, world, "/products/import")
    browser.find_element(By.NAME, "file").send_keys(str(csv_file))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#import-form button"))
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#import-results tbody tr")]
    assert "price: 应为字符串形式的十进制数" in rows[0]
    assert "weight: 不能小于 0" in rows[1]
    assert "price: price（价格）必须是正的十进制数字符串" in rows[2]
    shot(browser, "47-product-import-errors-zh")
    switch_language(browser, "en")
