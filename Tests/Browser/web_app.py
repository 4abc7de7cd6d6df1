"""The web app in a real browser: headless Chromium (Debian's chromium and chromium-driver),
driven by Selenium, checked by axe-core (the copy bundled in axe-selenium-python) for WCAG 2
A and AA. Run by the Swift test `browser` against a live service:

    python web_app.py BASE_URL NAME PASSWORD AUTHORITY OTHER_AUTHORITY RESEARCHER

Prints the failures as JSON and exits 1 if there are any.
"""
import json
import os
import sys

import axe_selenium_python
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

base, name, password, authority, other, researcher = sys.argv[1:7]
failures = []


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


def settle(condition):
    """Waits (up to 10 s) until the page the last action led to shows `condition`."""
    try:
        WebDriverWait(driver, 10).until(condition)
    except Exception:
        pass


def accessible(page):
    driver.execute_script(axe_source)
    found = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}, function (error, result) {"
        "  done(error ? ['axe failed: ' + error] : result.violations.map(function (v) { return v.id + ': ' + v.help + ' (' + v.nodes.length + ')'; }));"
        "});")
    check(found == [], "axe-core on %s: %s" % (page, found))


try:
    driver.get(base + "/")
    check(driver.current_url.endswith("/sign-in"), "the start page sends a visitor to sign in")
    accessible("the sign-in page")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    check(driver.switch_to.active_element.text == "Skip to main content", "the first Tab reaches the skip link")

    # Nothing typed: an error summary at the top, each error linked to its field.
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".error-summary")))
    summary = driver.find_elements(By.CSS_SELECTOR, ".error-summary a")
    check([link.get_attribute("href").split("#")[-1] for link in summary] == ["name", "password"], "the error summary links to both fields")
    check(len(driver.find_elements(By.CSS_SELECTOR, ".field-error")) == 2, "each field shows its error")
    accessible("the sign-in page with errors")

    # A wrong password keeps the name typed.
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys("not the password")
    driver.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    settle(expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".error-summary"), "not right"))
    check(driver.find_element(By.ID, "name").get_attribute("value") == name, "the name typed is kept after a refusal")

    # Signed in: the start page, then the authority's page, its policy named.
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    settle(expected_conditions.url_to_be(base + "/"))
    check(driver.current_url == base + "/", "signing in leads to the start page")
    driver.find_element(By.LINK_TEXT, authority).click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".policy strong")))
    check(driver.find_element(By.CSS_SELECTOR, ".policy strong").text == "dfe", "the lead's page names the dfe policy")
    check(len(driver.find_elements(By.CSS_SELECTOR, "svg[role=img] title")) == 1, "the chart has a title for screen readers")
    table = driver.find_element(By.CSS_SELECTOR, "details table")
    check(not table.is_displayed(), "the chart's table is folded away at first")
    driver.find_element(By.CSS_SELECTOR, "details summary").click()
    check(table.is_displayed(), "'Show as table' shows the chart's figures")
    for row in driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        if any("pupils" in cell for cell in cells) and cells[-1].isdigit():
            check(int(cells[-1]) == 0 or int(cells[-1]) > 5, "a small number about pupils is shown: %s" % cells)
    accessible("the authority's page")

    # Another authority's page is refused, with a page that says so.
    driver.get(base + "/authorities/" + other)
    check("You cannot see this page" in driver.page_source and "<svg" not in driver.page_source, "another authority's page is refused")

    # Signing out with the button ends the session.
    driver.get(base + "/")
    driver.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    settle(expected_conditions.url_contains("/sign-in"))
    check(driver.current_url.endswith("/sign-in"), "signing out leads back to the sign-in page")
    driver.get(base + "/authorities/" + authority)
    check(driver.current_url.endswith("/sign-in"), "after signing out, pages need signing in again")

    # A researcher: the programme's page, by authority and by strategy project.
    driver.find_element(By.ID, "name").send_keys(researcher)
    driver.find_element(By.ID, "password").send_keys(password + Keys.ENTER)
    settle(expected_conditions.url_to_be(base + "/"))
    driver.find_element(By.PARTIAL_LINK_TEXT, "The programme").click()
    settle(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.figures")))
    check(len(driver.find_elements(By.CSS_SELECTOR, "table.figures tbody tr")) > 5, "the programme's page lists the authorities")
    check(len(driver.find_elements(By.LINK_TEXT, authority)) == 1, "each authority links to its page")
    accessible("the programme's page")
finally:
    driver.quit()

print(json.dumps(failures))
sys.exit(1 if failures else 0)
