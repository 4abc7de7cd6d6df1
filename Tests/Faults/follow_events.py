"""A follower of the log through reach serve's event stream (GET /api/v1/events with
Accept: text/event-stream) while a fault is made: it reconnects from the last event it got
(Last-Event-ID) whenever the stream ends or fails, until SECONDS have passed. Run by the
failover test (ReplicaTests.swift):

    python follow_events.py BASE_URL TOKEN FROM SECONDS

Prints JSON: every position received, in order, and how many times it reconnected.
"""
import json
import sys
import time

import requests

base, token, start, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + seconds
positions = []
reconnects = 0
while time.monotonic() < deadline:
    headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
    if positions:
        headers["Last-Event-ID"] = str(positions[-1])
    try:
        with requests.get(base + "/api/v1/events", params={"from": start}, headers=headers, stream=True,
                          timeout=(5, max(1.0, deadline - time.monotonic()))) as answer:
            if answer.status_code != 200:
                raise requests.RequestException("status %d" % answer.status_code)
            for line in answer.iter_lines(decode_unicode=True):
                if line and line.startswith("id: "):
                    positions.append(int(line[4:]))
                if time.monotonic() >= deadline:
                    break
    except requests.RequestException:
        pass
    if time.monotonic() < deadline:
        reconnects += 1
        time.sleep(0.2)
print(json.dumps({"positions": positions, "reconnects": reconnects}))
