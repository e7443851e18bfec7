#!/usr/bin/env python3
"""Turns an NDJSON event file into Redis protocol (RESP) for `redis-cli --pipe`.

usage: bench/events_to_resp.py < events.ndjson > events.resp

One `FCALL handoff_event 3 dedupe:MID lead:LEAD routed MID LEAD TYPE NAME TS TITLE EMAIL EMPLOYEES`
per event (bench/redis_peer.lua): NAME is a page's path or a track event's name; TITLE, EMAIL and
EMPLOYEES are an identify's traits (empty otherwise); TS is the event's epoch seconds. The
parsing happens here, before the timed run, so the peer is timed on its per-event work alone.
"""
import json
import sys


def bulk(s: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(s), s)


def main() -> None:
    head = b"*14\r\n" + bulk(b"FCALL") + bulk(b"handoff_event") + bulk(b"3")
    routed = bulk(b"routed")
    out = sys.stdout.buffer
    chunk = []
    loads = json.loads
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        e = loads(line)
        kind = e.get("type", "")
        mid = str(e.get("messageId", "")).encode()
        lead = str(e.get("userId") or e.get("anonymousId") or "").encode()
        name = b""
        title = email = employees = b""
        if kind == "page":
            name = str((e.get("properties") or {}).get("path", "")).encode()
        elif kind == "track":
            name = str(e.get("event", "")).encode()
        elif kind == "identify":
            traits = e.get("traits") or {}
            title = str(traits.get("title", "")).encode()
            email = str(traits.get("email", "")).encode()
            employees = str(traits.get("employees", "")).encode()
        ts = str(int(e.get("timestamp", 0))).encode()
        chunk.append(b"".join((head, bulk(b"dedupe:" + mid), bulk(b"lead:" + lead), routed,
                               bulk(mid), bulk(lead), bulk(kind.encode()), bulk(name), bulk(ts),
                               bulk(title), bulk(email), bulk(employees))))
        if len(chunk) >= 10000:
            out.write(b"".join(chunk))
            chunk.clear()
    out.write(b"".join(chunk))


if __name__ == "__main__":
    main()
