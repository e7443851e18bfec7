#!/usr/bin/env python3
"""Writes N Segment-style events over L leads as NDJSON, for throughput runs.

usage: bench/make_events.py [--events N] [--leads L] [--seed S] > events.ndjson

A deterministic mix like a web tracker's: page views (pricing and docs pages), track events
(webinars, downloads, a few demo requests) and identify calls with traits, every event with a
unique messageId and a timestamp spread over the last 30 days.
"""
import argparse
import json
import random
import sys

PAGES = ["/", "/pricing", "/pricing/enterprise", "/docs/start", "/blog/scoring", "/careers"]
TRACKS = ["Webinar Attended", "Whitepaper Downloaded", "Demo Requested", "Trial Started",
          "Email Opened"]
TITLES = ["Head of Growth", "VP Marketing", "Engineer", "Director of Sales", "Intern"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = 1_790_000_000
    out = sys.stdout
    for i in range(args.events):
        lead = f"user-{rng.randrange(args.leads)}"
        ts = start + rng.randrange(30 * 86400)
        r = rng.random()
        if r < 0.6:
            event = {"type": "page", "userId": lead, "name": "Page",
                     "properties": {"path": rng.choice(PAGES), "referrer": "https://example.com"}}
        elif r < 0.9:
            event = {"type": "track", "userId": lead, "event": rng.choice(TRACKS),
                     "properties": {"plan": "pro", "value": rng.randrange(100)}}
        else:
            event = {"type": "identify", "userId": lead,
                     "traits": {"email": f"{lead}@acme{rng.randrange(500)}.com",
                                "title": rng.choice(TITLES),
                                "employees": rng.choice([10, 200, 1500, 5000])}}
        event["messageId"] = f"m-{args.seed}-{i}"
        event["timestamp"] = ts
        event["context"] = {"library": {"name": "analytics.js", "version": "4.1.0"}}
        out.write(json.dumps(event, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
