"""Drives the web console in headless Chromium (selenium + chromedriver).

Usage: console_check.py URL SCREENSHOT

Prints one line per step on standard output:
  resources <json list of paths>
  plugins <json list of plugin names>
  put <status text>
  observing <panel text>      then reads a line from standard input
  notified <panel text>       after the panel changed
  log-ready                   the exchange log is live; then reads a
                              message id from standard input
  logged <json [in, out]>     the rows of that message id, both ways
  paused                      after Pause; then reads a message id
  held <waiting> <rows>       1.5 s later: records waiting, rows of that id
  resumed <rows>              after Resume: rows of that id
Exits non-zero with the reason on standard error if a step fails.
"""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

url, screenshot = sys.argv[1], sys.argv[2]
options = Options()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800"):
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 20)
try:
    driver.get(url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#resources li[data-path="/led"]'))
    paths = [item.get_attribute("data-path") for item in driver.find_elements(By.CSS_SELECTOR, "#resources li")]
    print("resources", json.dumps(paths), flush=True)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#plugins tr[data-plugin="led"]'))
    plugins = [row.get_attribute("data-plugin") for row in driver.find_elements(By.CSS_SELECTOR, "#plugins tbody tr")]
    print("plugins", json.dumps(plugins), flush=True)

    driver.find_element(By.CSS_SELECTOR, '#resources li[data-path="/led"]').click()
    Select(driver.find_element(By.ID, "method")).select_by_visible_text("PUT")
    Select(driver.find_element(By.ID, "format")).select_by_value("application/json")
    payload = driver.find_element(By.ID, "payload")
    payload.clear()
    payload.send_keys('{"state": "on"}')
    driver.find_element(By.ID, "send").click()
    wait.until(lambda d: d.find_element(By.ID, "response-status").text)
    print("put", driver.find_element(By.ID, "response-status").text, flush=True)

    driver.find_element(By.ID, "observe").click()
    panel = '.panel[data-path="/led"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, panel) and
               d.find_element(By.CSS_SELECTOR, panel).get_attribute("data-count"))
    first = driver.find_element(By.CSS_SELECTOR, panel + " .data").text
    print("observing", json.dumps(first), flush=True)
    sys.stdin.readline()  # the test changes /led over CoAP now
    wait.until(lambda d: int(d.find_element(By.CSS_SELECTOR, panel).get_attribute("data-count")) >= 2)
    print("notified", json.dumps(driver.find_element(By.CSS_SELECTOR, panel + " .data").text), flush=True)

    wait.until(lambda d: d.find_element(By.ID, "log").get_attribute("data-state") == "live")
    print("log-ready", flush=True)
    mid = sys.stdin.readline().strip()  # the test's coap-client GET /led

    def rows(mid):
        return driver.find_elements(By.CSS_SELECTOR, f'#log tbody tr[data-mid="{mid}"]')

    wait.until(lambda d: {r.get_attribute("data-direction") for r in rows(mid)} >= {"in", "out"})
    print("logged", json.dumps([r.text for r in rows(mid)][::-1]), flush=True)

    driver.find_element(By.ID, "log-pause").click()
    print("paused", flush=True)
    paused_mid = sys.stdin.readline().strip()  # another GET, while paused
    count = driver.find_element(By.ID, "log-count")
    wait.until(lambda d: int(count.get_attribute("data-waiting") or 0) >= 2)
    time.sleep(1.5)
    print("held", count.get_attribute("data-waiting"), len(rows(paused_mid)), flush=True)
    driver.find_element(By.ID, "log-pause").click()
    wait.until(lambda d: len(rows(paused_mid)) >= 2)
    print("resumed", len(rows(paused_mid)), flush=True)

    # A taller window, so the screenshot shows the log too.
    driver.set_window_size(1280, 1300)
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)
    driver.save_screenshot(screenshot)
finally:
    driver.quit()
