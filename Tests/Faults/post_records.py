"""Clients that post records to a running reach serve while a fault is made, each retrying a
record with the same id until it is acknowledged. Run by the fault tests (FaultTests.swift):

    python post_records.py BASE_URL TOKEN PILOT SCHOOL SECONDS CLIENTS

Prints JSON: the ids acknowledged, the answers that were not 200 (503, none, other), the
longest time without any acknowledgement (how long the clients saw the service down), and the
longest any one request took to be answered.
"""
import json
import sys
import threading
import time

import requests

base, token, pilot, school, seconds, clients = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
lock = threading.Lock()
acknowledged = []
counts = {"unavailable": 0, "no_answer": 0, "other": 0}
others = []
acknowledged_at = []
deadline = time.monotonic() + seconds
slowest = [0.0]


def record(ident):
    return {"type": "activity_delivered", "id": ident, "data": {
        "pilot_id": pilot, "la_id": "northvale", "school_id": school, "kind": "assembly", "date": "2025-03-04",
        "duration_minutes": 45, "mode": "in_person", "delivered_by": {"team": "CS schools team"},
        "attendance": {"pupils": {"ks3": 30}, "staff": {"teaching": 4}}}}


def client(number):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + token
    n = 0
    while time.monotonic() < deadline:
        n += 1
        ident = "fault-%d-%d" % (number, n)
        # The same id until it is acknowledged (or 60 s past the end): a retry records nothing twice.
        while time.monotonic() < deadline + 60:
            sent = time.monotonic()
            try:
                status = session.post(base + "/api/v1/records", json=record(ident), timeout=60).status_code
            except requests.RequestException:
                status = None
            took = time.monotonic() - sent
            with lock:
                slowest[0] = max(slowest[0], took)
                if status == 200:
                    acknowledged.append(ident)
                    acknowledged_at.append(time.monotonic())
                    break
                if status == 503:
                    counts["unavailable"] += 1
                elif status is None:
                    counts["no_answer"] += 1
                else:
                    counts["other"] += 1
                    others.append(status)
            time.sleep(0.1)


threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
times = sorted(acknowledged_at)
longest = max((b - a for a, b in zip(times, times[1:])), default=None)
print(json.dumps({"acknowledged": acknowledged, "counts": counts, "other_statuses": others[:10], "longest_gap": longest, "slowest": slowest[0]}))
