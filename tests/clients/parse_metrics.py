"""Reads a /metrics scrape on stdin with prometheus_client's own text
parser and prints its samples as JSON: [[name, {labels}, value], ...].
Used by tests/e2e/metrics.rs; a document the parser rejects fails it."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for sample in family.samples:
        samples.append([sample.name, sample.labels, sample.value])
json.dump(samples, sys.stdout)
