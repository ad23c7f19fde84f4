#!/usr/bin/env python3
"""The explorer page of `recur serve` in headless Chromium (Debian's chromium,
chromium-driver and python3-selenium).

Starts the server on a free port with a classifier and a language model, then
as a user would: types a sentence, waits for the heatmap, and checks that it
has one cell per token and shown unit and that the label is /v1/predict's; in
the language-model view, reads a text and checks one coloured symbol per token
and the top-5 next symbols under a clicked one; samples (streamed) text. Saves
a screenshot of each view.

Usage: serve_browser_test.py RECUR_BIN CLASSIFIER.st LM.st [--shots DIR]
With no model files given (`-`), it trains small ones from the built-in data.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def post(port, path, body):
    req = urllib.request.Request(f'http://127.0.0.1:{port}{path}', json.dumps(body).encode(),
                                 {'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


def small_models(recur, work):
    clf, lm = os.path.join(work, 'clf.st'), os.path.join(work, 'lm.st')
    subprocess.run([recur, 'train', '--train', os.path.join(SRC, 'data/seed_train.tsv'), '--tokenizer', 'word',
                    '--cell', 'lstm', '--embed', '16', '--hidden', '24', '--bias-hh', '--init', 'pytorch',
                    '--optimizer', 'adam', '--lr', '0.01', '--clip', '0', '--batch', '4', '--epochs', '30',
                    '--quiet', '--save', clf], check=True, capture_output=True)
    text = os.path.join(work, 'text.txt')
    with open(text, 'w') as f:
        for name in ('bptt.md', 'cells.md', 'data-formats.md'):
            f.write(open(os.path.join(SRC, 'docs', name)).read())
    subprocess.run([recur, 'train', '--task', 'lm', '--text', text, '--hidden', '32', '--layers', '1',
                    '--steps', '150', '--batch', '8', '--seq-len', '32', '--quiet', '--save', lm],
                   check=True, capture_output=True)
    return clf, lm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('recur')
    ap.add_argument('classifier', nargs='?', default='-')
    ap.add_argument('lm', nargs='?', default='-')
    ap.add_argument('--shots', default='', help='folder to keep the screenshots in (default: none kept)')
    ap.add_argument('--sentence', default='i am not happy at all')
    ap.add_argument('--text', default='')
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix='recur-browser-')
    try:
        run_views(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the models, the browser's profile and default screenshots
    print('ok')


def run_views(a, work):
    clf, lm = (a.classifier, a.lm) if a.classifier != '-' else small_models(a.recur, work)
    shots = a.shots or work
    server = subprocess.Popen([a.recur, 'serve', '--port', '0', '--model', 'clf=' + clf, '--model', 'lm=' + lm],
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        port = int(re.search(r'127\.0\.0\.1:(\d+)', line).group(1))
        opts = webdriver.ChromeOptions()
        opts.binary_location = '/usr/bin/chromium'
        for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
                    '--disable-background-networking', '--disable-component-update', '--disable-sync',
                    '--window-size=1280,1600', f'--user-data-dir={work}/profile'):
            opts.add_argument(arg)
        driver = webdriver.Chrome(service=Service(executable_path='/usr/bin/chromedriver'), options=opts)
        wait = WebDriverWait(driver, 20)
        try:
            # The classifier view.
            driver.get(f'http://127.0.0.1:{port}/?model=clf')
            box = wait.until(lambda d: d.find_element(By.ID, 'sentence'))
            box.clear()
            box.send_keys(a.sentence)
            want = post(port, '/v1/explain', {'model': 'clf', 'text': a.sentence})
            tokens = len(want['tokens'])

            def heatmap_ready(d):
                h = d.find_element(By.ID, 'heatmap')
                return h if h.get_attribute('data-tokens') == str(tokens) else False
            heatmap = wait.until(heatmap_ready)
            units = int(heatmap.get_attribute('data-units'))
            cells = driver.find_elements(By.CSS_SELECTOR, '#heatmap rect.cell')
            assert units > 0, 'no units shown'
            assert len(cells) == tokens * units, f'{len(cells)} cells for {tokens} tokens x {units} units'
            label = driver.find_element(By.ID, 'label').text
            predicted = post(port, '/v1/predict', {'model': 'clf', 'texts': [a.sentence]})['predictions'][0]['label']
            assert label == predicted, f'page says {label}, /v1/predict says {predicted}'
            assert len(driver.find_elements(By.CSS_SELECTOR, '#importance .tok')) == tokens
            assert len(driver.find_elements(By.CSS_SELECTOR, '#prefix-chart polyline')) >= 2
            assert driver.find_element(By.ID, 'error').text == '', driver.find_element(By.ID, 'error').text
            driver.save_screenshot(os.path.join(shots, 'serve-classifier.png'))
            print(f'classifier view: {tokens} tokens x {units} units, label {label}')

            # The language-model view: read a text, colour it, look at what comes next.
            driver.get(f'http://127.0.0.1:{port}/?model=lm')
            area = wait.until(lambda d: d.find_element(By.ID, 'lm-input'))
            if a.text:
                area.clear()
                area.send_keys(a.text)
                driver.find_element(By.ID, 'explain-lm').click()
            text = area.get_attribute('value')
            want = post(port, '/v1/explain', {'model': 'lm', 'text': text})
            try:
                wait.until(lambda d: d.find_element(By.ID, 'lm-text').get_attribute('data-tokens') == str(len(want['tokens'])))
            except Exception:
                drawn = driver.find_element(By.ID, 'lm-text').get_attribute('data-tokens')
                raise AssertionError(f'the text view shows {drawn} symbols, /v1/explain read {len(want["tokens"])}; '
                                     f'page error: {driver.find_element(By.ID, "error").text!r}')
            spans = driver.find_elements(By.CSS_SELECTOR, '#lm-text span')
            assert len(spans) == len(want['tokens']), f'{len(spans)} symbols drawn for {len(want["tokens"])}'
            assert len(driver.find_elements(By.CSS_SELECTOR, '#unit-picker button')) > 0
            spans[min(8, len(spans) - 1)].click()
            nexts = driver.find_elements(By.CSS_SELECTOR, '#next .bar')
            assert len(nexts) == 5, f'{len(nexts)} next symbols shown'
            driver.save_screenshot(os.path.join(shots, 'serve-lm.png'))
            print(f'language-model view: {len(spans)} symbols coloured, top-5 next shown')

            # Sampling streams into the text box, then the page reads what it wrote.
            driver.find_element(By.ID, 'length').clear()
            driver.find_element(By.ID, 'length').send_keys('60')
            driver.find_element(By.ID, 'sample').click()
            prime = driver.find_element(By.ID, 'prime').get_attribute('value')
            sampled = post(port, '/v1/generate', {'model': 'lm', 'prime': prime, 'length': 60, 'temperature': 0.8,
                                                  'top_k': 0, 'top_p': 1, 'seed': 1})
            full = prime + sampled['text']
            wait.until(lambda d: d.find_element(By.ID, 'lm-input').get_attribute('value') == full)
            print('sampling: the streamed text equals /v1/generate\'s')
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == '__main__':
    sys.exit(main())
