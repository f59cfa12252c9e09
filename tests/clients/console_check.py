"""Drives the web console in headless Chromium (selenium + chromedriver).

Usage: console_check.py URL SCREENSHOT

Prints one line per step on standard output:
  resources <json list of paths>
  plugins <json list of plugin names>
  put <status text>
  observing <panel text>      then reads a line from standard input
  notified <panel text>       after the panel changed
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
    time.sleep(0.3)
    driver.save_screenshot(screenshot)
finally:
    driver.quit()
