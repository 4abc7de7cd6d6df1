"""The web app in a real browser: headless Chromium (Debian's chromium and chromium-driver),
driven by Selenium, checked by axe-core (the copy bundled in axe-selenium-python) for WCAG 2
A and AA on every page it visits. Run by the Swift test `browser` against a live service:

    python web_app.py BASE_URL PASSWORD LEAD AUTHORITY OTHER_AUTHORITY RESEARCHER STAFF ADMIN PILOT SCHOOL SCREENSHOTS

Each role signs in. The lead's dashboard is under dfe with symbols and no small numbers, another
authority's page is refused, and the summary's spreadsheet holds the figures its CSV holds.
Staff record an assembly with the keyboard alone (a refused try first, its error at the field
and the typing kept), see it in the dashboard's figures, and import a file with a refused row,
download the rejects, fix them and import them again. A screenshot of each page is saved in
SCREENSHOTS. Prints the failures as JSON and exits 1 if there are any.
"""
import csv
import datetime
import io
import json
import os
import sys
import tempfile
import time
import urllib.parse

import axe_selenium_python
import openpyxl
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

base, password, lead, authority, other, researcher, staff, admin, pilot, school, screenshots = sys.argv[1:12]
os.makedirs(screenshots, exist_ok=True)
for old in os.listdir(screenshots):
    if old.endswith(".png"):
        os.remove(os.path.join(screenshots, old))
failures = []
pages_checked = []


def check(condition, what):
    if not condition:
        failures.append(what)


options = Options()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1024"]:
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)
axe_source = open(os.path.join(os.path.dirname(axe_selenium_python.__file__), "node_modules", "axe-core", "axe.min.js")).read()


def settle(condition, seconds=10):
    """Waits until the page the last action led to shows `condition`."""
    try:
        WebDriverWait(driver, seconds).until(condition)
    except Exception:
        pass


def accessible(page):
    """axe-core's WCAG 2 A and AA rules on the page, and a screenshot of all of it."""
    driver.execute_script(axe_source)
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}, function (error, result) {"
        "  done(error ? ['axe failed: ' + error] : result.violations.map(function (v) { return v.id + ': ' + v.help + ' (' + v.nodes.length + ')'; }));"
        "});")
    check(found == [], "axe-core on %s: %s" % (page, found))
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(height + 40, 600), 8000))
    driver.save_screenshot(os.path.join(screenshots, "%02d-%s.png" % (len(pages_checked) + 1, "".join(c if c.isalnum() else "-" for c in page.lower()).strip("-"))))
    driver.set_window_size(1280, 1024)
    pages_checked.append(page)


def sign_in(name):
    driver.get(base + "/sign-in")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    settle(expected_conditions.url_to_be(base + "/"))
    check(driver.current_url == base + "/", "%s's sign-in leads to the start page" % name)


def sign_out():
    driver.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    settle(expected_conditions.url_contains("/sign-in"))


def session():
    """The browser's cookies, for downloads fetched beside it."""
    web = requests.Session()
    for cookie in driver.get_cookies():
        web.cookies.set(cookie["name"], cookie["value"])
    return web


def headline(name):
    """A headline figure on an authority's page, by its row's name."""
    for row in driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr"):
        cells = row.find_elements(By.CSS_SELECTOR, "th, td")
        if cells and cells[0].get_attribute("textContent") == name:
            return cells[-1].get_attribute("textContent")
    return None


def wait_for_job():
    for _ in range(60):
        if "Importing" not in driver.page_source:
            return
        time.sleep(0.5)
        driver.refresh()


try:
    # --- Anyone: the sign-in page, its errors and the keyboard's skip link.
    driver.get(base + "/")
    check("/sign-in" in driver.current_url, "the start page sends a visitor to sign in")
    accessible("sign-in")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    check(driver.switch_to.active_element.text == "Skip to main content", "the first Tab reaches the skip link")
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error-summary")))
    summary = driver.find_elements(By.CSS_SELECTOR, ".error-summary a")
    check([link.get_attribute("href").split("#")[-1] for link in summary] == ["name", "password"], "the error summary links to both fields")
    check(len(driver.find_elements(By.CSS_SELECTOR, ".field-error")) == 2, "each field shows its error")
    accessible("sign-in with errors")
    driver.find_element(By.ID, "name").send_keys(lead)
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    settle(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".error-summary"), "not right"))
    check(driver.find_element(By.ID, "name").get_attribute("value") == lead, "the name typed is kept after a refusal")

    # --- The lead: its authority's dashboard under dfe, symbols and no small numbers.
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    settle(expected_conditions.url_to_be(base + "/"))
    accessible("start (lead)")
    driver.find_element(By.LINK_TEXT, authority).click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".policy strong")))
    check(driver.find_element(By.CSS_SELECTOR, ".policy strong").text == "dfe", "the lead's page names the dfe policy")
    charts = driver.find_elements(By.CSS_SELECTOR, "svg[role=img]")
    check(len(charts) >= 3 and all(chart.find_elements(By.TAG_NAME, "title") and chart.find_elements(By.TAG_NAME, "desc") for chart in charts),
          "every chart has a title and a description for screen readers")
    # Each chart's values are its table's.
    for section in driver.find_elements(By.CSS_SELECTOR, "section.section"):
        svg = section.find_elements(By.CSS_SELECTOR, "svg[role=img]")
        tables = section.find_elements(By.CSS_SELECTOR, "details table")
        if not svg or not tables or section.get_attribute("aria-labelledby") == "survey-change-heading":
            continue
        drawn = sorted(text.get_attribute("textContent") for text in svg[0].find_elements(By.CSS_SELECTOR, "text.value, text.value-right"))
        listed = sorted(cell.get_attribute("textContent") for cell in tables[0].find_elements(By.CSS_SELECTOR, "tbody td.number"))
        check(drawn == listed, "a chart's values are its table's: %s against %s" % (drawn, listed))
    details = driver.find_element(By.CSS_SELECTOR, "details")
    table = details.find_element(By.TAG_NAME, "table")
    check(not table.is_displayed(), "a chart's table is folded away at first")
    details.find_element(By.TAG_NAME, "summary").click()
    check(table.is_displayed(), "'Show as table' shows the chart's figures")
    for row in driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr"):
        cells = [cell.get_attribute("textContent") for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        if cells and cells[0] == "Pupils" and cells[-1].isdigit():
            check(int(cells[-1]) == 0 or int(cells[-1]) > 5, "a small number about pupils is shown: %s" % cells)
    check(len(driver.find_elements(By.CSS_SELECTOR, "dl.legend dt")) >= 4, "the symbols' legend is on the page")
    accessible("authority dashboard (lead)")

    # The summary to download: the spreadsheet holds the CSV's figures.
    driver.find_element(By.PARTIAL_LINK_TEXT, "summary to share").click()
    settle(expected_conditions.presence_of_element_located((By.ID, "format")))
    accessible("summary download (lead)")
    web = session()
    token = driver.find_element(By.NAME, "csrf_token").get_attribute("value")
    download = base + "/authorities/%s/summary/download" % authority
    figures = web.post(download, data={"period": "2024/25", "policy": "dfe", "format": "csv", "csrf_token": token})
    sheet = web.post(download, data={"period": "2024/25", "policy": "dfe", "format": "xlsx", "csrf_token": token})
    check(web.post(download, data={"period": "2024/25", "policy": "dfe", "format": "csv"}).status_code == 403, "a download without the form's token is refused")
    check(figures.status_code == 200 and sheet.status_code == 200, "the CSV and the spreadsheet download")
    rows = list(csv.DictReader(io.StringIO(figures.text)))
    book = openpyxl.load_workbook(io.BytesIO(sheet.content))
    check(book["About"]["B3"].value == "dfe", "the spreadsheet names its policy")
    cells = {}
    for name in book.sheetnames[1:]:
        sheet_rows = list(book[name].iter_rows(values_only=True))
        check(sheet_rows[0][:6] == ("period", "scope", "dimension", "category", "statistic", "value"), "sheet %s has its header row" % name)
        check(book[name].freeze_panes == "A2", "sheet %s keeps its header row in view" % name)
        for period, scope, dimension, category, statistic, value, policy in sheet_rows[1:]:
            cells[(name, scope, dimension, category, statistic)] = value
    check(len(cells) == len(rows), "the spreadsheet holds %d figures, the CSV %d" % (len(cells), len(rows)))
    for row in rows:
        value = cells.get((row["metric"], row["scope"], row["dimension"], row["category"], row["statistic"]))
        same = (isinstance(value, (int, float)) and float(row["value"]) == float(value)) if row["value"] not in ("c", "x", "z", ":", "*") else value == row["value"]
        check(same, "the spreadsheet's %s is %r, the CSV's %r" % ((row["metric"], row["scope"], row["category"], row["statistic"]), value, row["value"]))

    # Both calendars, the year in progress and the strategy period: figures, never an error or a
    # command to run; pupil figures where they are large; each exported as well.
    today = datetime.date.today()
    current = today.year if today.month >= 9 else today.year - 1
    for period in ["FY2024/25", "2024-Q3", "%d/%02d" % (current, (current + 1) % 100), "2024-2029"]:
        driver.get(base + "/authorities/%s?period=%s" % (authority, urllib.parse.quote(period, safe="")))
        settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".policy strong")))
        source = driver.page_source
        check("reach projections" not in source and "not published" not in source and "There is a problem" not in source,
              "the lead's page for %s has its figures" % period)
        pupils = []
        for row in driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr"):
            cells = [cell.get_attribute("textContent").replace(",", "") for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
            if cells and cells[0] == "Pupils":
                pupils.append(cells[-1])
                check(not cells[-1].isdigit() or int(cells[-1]) == 0 or int(cells[-1]) > 5, "a small number about pupils is shown: %s" % cells)
        if period in ("FY2024/25", "2024-2029"):
            check(pupils, "the lead's page for %s has pupil figures (shown where large): %s" % (period, pupils))
        accessible("authority dashboard %s (lead)" % period)
        export = web.post(download, data={"period": period, "format": "csv", "csrf_token": token})
        check(export.status_code == 200 and "metric" in export.text.splitlines()[0], "the summary of %s downloads: %s" % (period, export.status_code))

    # Another authority's page is refused, with a page that says so.
    driver.get(base + "/authorities/" + other)
    check("You cannot see this page" in driver.page_source and "<svg" not in driver.page_source, "another authority's page is refused")
    accessible("refusal (lead)")
    driver.get(base + "/")
    sign_out()
    driver.get(base + "/authorities/" + authority)
    check("/sign-in" in driver.current_url, "after signing out, pages need signing in again")

    # --- Staff: record an assembly with the keyboard alone.
    sign_in(staff)
    accessible("start (staff)")
    driver.get(base + "/authorities/%s?period=2024/25" % authority)
    before = int(headline("Sessions") or 0)
    driver.get(base + "/record")
    accessible("record: choose a type")
    driver.find_element(By.LINK_TEXT, "Activity delivered").click()
    settle(expected_conditions.presence_of_element_located((By.ID, "f-pilot_id")))
    accessible("record: activity form")
    typed = {"f-pilot_id": pilot, "f-school_id": school, "f-kind": "Assembly", "f-date": "2025-03-04", "f-duration_minutes": "45x",
             "f-mode": "In person", "f-delivered_by-team": "CS schools team", "f-attendance-pupils-ks3": "120", "f-attendance-staff-teaching": "5"}

    def complete_with_keyboard(values):
        """Tabs from the top of the page through every field, typing where there is a value, to the form's button; then Enter."""
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        for _ in range(300):
            active = driver.switch_to.active_element
            ident = active.get_attribute("id")
            if ident in values:
                if active.tag_name == "input":
                    active.send_keys(Keys.CONTROL, "a")
                    active.send_keys(Keys.DELETE)
                active.send_keys(values[ident])
            if active.tag_name == "button" and active.text == "Record":
                active.send_keys(Keys.ENTER)
                return True
            active.send_keys(Keys.TAB)
        return False

    check(complete_with_keyboard(typed), "the record form's button is reached with Tab")
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error-summary")))
    links = [link.get_attribute("href").split("#")[-1] for link in driver.find_elements(By.CSS_SELECTOR, ".error-summary a")]
    check(links == ["f-duration_minutes"], "the refused record's summary links to its one wrong field: %s" % links)
    check(driver.find_elements(By.ID, "f-duration_minutes-error"), "the error is shown next to its field")
    check(driver.find_element(By.ID, "f-duration_minutes").get_attribute("value") == "45x", "the wrong value typed is kept")
    check(driver.find_element(By.ID, "f-attendance-pupils-ks3").get_attribute("value") == "120", "the other values typed are kept")
    accessible("record: refused")
    check(complete_with_keyboard({"f-duration_minutes": "45"}), "the corrected form is sent with the keyboard")
    settle(expected_conditions.url_contains("/records?recorded="))
    check("/records?recorded=" in driver.current_url, "the accepted record leads to the recent records")
    check("is in the log" in driver.page_source, "the page says the record is in the log")
    accessible("recent records")
    driver.get(base + "/authorities/%s?period=2024/25" % authority)
    check(int(headline("Sessions") or 0) == before + 1, "the dashboard counts the new session (%s then %s)" % (before, headline("Sessions")))
    accessible("authority dashboard (staff)")

    # Import a file with a refused row; download the rejects, fix them, import them again.
    driver.get(base + "/imports")
    accessible("imports")
    web = session()
    template = web.get(base + "/templates/activity_delivered.csv").text.strip().split("\n")
    header = template[0].split(",")
    example = template[1].split(",")
    lines = [",".join(header)]
    for number, kind in [(1, "assembly"), (2, "asembly"), (3, "assembly")]:
        cells = list(example)
        for column, value in [("id", "browser-import-%d" % number), ("pilot_id", pilot), ("school_id", school), ("kind", kind),
                              ("date", "2025-03-0%d" % number), ("delivered_by_partners", "")]:
            cells[header.index(column)] = value
        lines.append(",".join(cells))
    folder = tempfile.mkdtemp()
    upload = os.path.join(folder, "activity_delivered-browser.csv")
    open(upload, "w").write("\n".join(lines) + "\n")
    driver.find_element(By.ID, "f-file").send_keys(upload)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    settle(expected_conditions.url_contains("/imports/"))
    wait_for_job()
    check("Nothing was imported" in driver.page_source, "an import with a refused row records nothing")
    refused = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr")]
    check(len(refused) == 1 and refused[0][:3] == ["3", "browser-import-2", "kind"], "the refused row's line, id and field: %s" % refused)
    accessible("import refused")
    found = driver.find_elements(By.PARTIAL_LINK_TEXT, "Download the refused rows")
    check(found, "the refused import's page offers its rejects: %s" % driver.find_element(By.TAG_NAME, "main").text[:600])
    rejects_link = found[0].get_attribute("href") if found else base + "/imports"
    rejects = session().get(rejects_link)
    check(rejects.status_code == 200 and "browser-import-2" in rejects.text and "browser-import-1," not in rejects.text, "the rejects file holds the refused row")
    fixed = os.path.join(folder, "activity_delivered-fixed.csv")
    open(fixed, "w").write(rejects.text.replace("asembly", "assembly"))
    driver.get(base + "/imports")
    driver.find_element(By.ID, "f-file").send_keys(fixed)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    settle(expected_conditions.url_contains("/imports/"))
    wait_for_job()
    check("Imported" in driver.page_source and "1 record recorded" in driver.page_source, "the fixed rejects import: %s" % driver.find_element(By.TAG_NAME, "main").text[:300])
    accessible("import succeeded")
    driver.get(base + "/account")
    accessible("your account")
    driver.get(base + "/")
    sign_out()

    # --- A researcher: the programme and the research views.
    sign_in(researcher)
    driver.find_element(By.PARTIAL_LINK_TEXT, "The programme").click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.figures")))
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr")) > 5, "the programme's page lists the authorities")
    check(len(driver.find_elements(By.LINK_TEXT, authority)) == 1, "each authority links to its page")
    check("Strategy 2024-2029 progress" in driver.page_source, "the programme's page shows the strategy's progress")
    accessible("programme (researcher)")
    driver.get(base + "/research")
    check(len(driver.find_elements(By.CSS_SELECTOR, "section.section")) > 10, "the research views are listed")
    accessible("for researchers")
    driver.get(base + "/")
    sign_out()

    # --- An admin: the accounts.
    sign_in(admin)
    driver.get(base + "/admin/users")
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr")) >= 4, "the accounts are listed")
    accessible("accounts (admin)")
finally:
    driver.quit()

print(json.dumps({"failures": failures, "pages": pages_checked}))
sys.exit(1 if failures else 0)
