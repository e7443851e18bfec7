#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the tests' inputs.

Run from the repository root after a test's inputs change: python3 fuzz/make_seeds.py
The seeds are the string literals of the mirrored tests (each target's tests/... files), plus a few
inputs built here where the tests hold them in another form (HTTP requests around the Segment
bodies, encoded lead states). Each file is named by a hash of its bytes, so reruns are stable.
"""
import gzip
import hashlib
import os
import re
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MAX_SEEDS = 80
MAX_BYTES = 4096

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def literals(path):
    """The C++ string literals of a file, adjacent ones joined, escapes decoded."""
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    out, i, pending, last_end = [], 0, None, -1
    token = re.compile(r'R"([^(\s]*)\(|"|//[^\n]*|/\*.*?\*/|\'(?:\\.|[^\\\'])\'', re.S)
    while True:
        m = token.search(text, i)
        if not m:
            break
        start = m.start()
        if m.group(0).startswith("/") or m.group(0).startswith("'"):
            i = m.end()
            continue
        if m.group(0).startswith("R"):
            end_marker = ")" + m.group(1) + '"'
            end = text.index(end_marker, m.end())
            value, i = text[m.end():end], end + len(end_marker)
        else:
            j, chars = m.end(), []
            while text[j] != '"':
                if text[j] == "\\":
                    nxt = text[j + 1]
                    if nxt == "x":
                        hexd = re.match(r"[0-9a-fA-F]+", text[j + 2:]).group(0)
                        chars.append(chr(int(hexd, 16)))
                        j += 2 + len(hexd)
                        continue
                    if nxt == "u":
                        chars.append(chr(int(text[j + 2:j + 6], 16)))
                        j += 6
                        continue
                    chars.append(ESCAPES.get(nxt, nxt))
                    j += 2
                else:
                    chars.append(text[j])
                    j += 1
            value, i = "".join(chars), j + 1
        if pending is not None and text[last_end:start].strip() == "":
            pending += value
        else:
            if pending is not None:
                out.append(pending)
            pending = value
        last_end = i
    if pending is not None:
        out.append(pending)
    return out


def write(target, seeds):
    directory = os.path.join(CORPUS, target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    unique = []
    for seed in seeds:
        data = seed.encode("utf-8", "surrogatepass") if isinstance(seed, str) else seed
        if 0 < len(data) <= MAX_BYTES and data not in unique:
            unique.append(data)
    for data in unique[:MAX_SEEDS]:
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{target}: {min(len(unique), MAX_SEEDS)} seeds", file=sys.stderr)


def json_objects(paths):
    return [s for p in paths for s in literals(p) if s.lstrip().startswith("{")]


def ndjson():
    events = json_objects(["tests/ingest/event_parser_test.cc", "tests/ingest/ingest_server_test.cc"])
    one_line = [e.replace("\n", " ") for e in events]
    seeds = [e + "\n" for e in one_line]
    # A few streams: several lines, a blank one, a line without its newline at the end.
    for k in range(0, len(one_line), 7):
        seeds.append("\n".join(one_line[k:k + 7]) + "\n\n  \r\n" + one_line[k])
    return seeds


def rule_files():
    seeds = [open(os.path.join(ROOT, "rules/examples/default.yaml")).read()]
    for path in ["tests/rules/rule_loader_test.cc", "tests/rules/routing_loader_test.cc"]:
        texts = [s for s in literals(path) if ":" in s and "\n" in s]
        base = [s for s in texts if s.startswith("scores:")]
        seeds += texts
        # The routing tests append their routing section to a base of scores and stages.
        seeds += [b + s for b in base[:1] for s in texts if s.startswith("routing:")]
    return seeds


def expressions():
    return [s for s in literals("tests/rules/expression_test.cc")
            if s and "\n" not in s and not s.startswith("{") and len(s) < 300]


def subscriber_lines():
    lines = json_objects(["tests/subscribe/subscription_test.cc",
                          "tests/subscribe/subscriber_server_test.cc"])
    seeds = [l + "\n" for l in lines]
    seeds.append("\n".join(lines[:6]) + "\n")
    # A stored outbox record (outbox/stored_record.cc): format 1, kind, sized rep and team, JSON.
    seeds.append(b"\x01\x01\x05alice\x0aenterprise" + b'{"seq":7,"kind":"routed"}')
    return seeds


def http_requests():
    bodies = json_objects(["tests/ingest/segment_http_test.cc"])[:20]
    seeds = []
    def request(method, target, body=b"", headers=()):
        head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for name, value in headers:
            head += f"{name}: {value}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        return head.encode() + b"\r\n" + body
    basic = "Basic d2sxOg=="  # base64("wk1:")
    for i, body in enumerate(bodies):
        data = body.encode()
        path = "/v1/batch" if '"batch"' in body else "/v1/track"
        seeds.append(request("POST", path, data, [("Authorization", basic),
                                                  ("Content-Type", "application/json")]))
        if i % 3 == 0:
            seeds.append(request("POST", path, gzip.compress(data, mtime=0),
                                 [("Content-Encoding", "gzip"), ("Authorization", basic)]))
    seeds += [
        request("GET", "/v1/leads?stage=sql&limit=10&after=u%201",
                headers=[("Authorization", "Bearer s3cret")]),
        request("GET", "/v1/leads/u%2F1/history", headers=[("Authorization", "Bearer wrong")]),
        request("PUT", "/v1/reps/alice/availability", b'{"available":false}',
                [("Authorization", "Bearer s3cret")]),
        request("OPTIONS", "/v1/t"),
        request("GET", "http://example.com/healthz"),
        request("POST", "/v1/p", b'{"writeKey":"wk1","userId":"u","name":"Home"}'),
        b"POST /v1/track HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"10\r\n{\"userId\":\"u1\",\r\n13\r\n\"event\":\"Signed Up\"}\r\n0\r\n\r\n",
        request("GET", "/healthz") + request("GET", "/metrics") + b"GET / HTTP/1.0\r\n\r\n",
        request("POST", "/v1/identify", gzip.compress(b'{"userId":"u","traits":{"a":1}}' * 40),
                [("Content-Encoding", "gzip")]),
    ]
    return seeds


def lead_states():
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])
    def s(text):
        data = text.encode()
        return varint(len(data)) + data
    def f64(d):
        return struct.pack("<d", d)
    null, true, num = b"\x00", b"\x01\x01", b"\x02" + f64(25)
    traits = (b"\x05" + varint(3) + s("email") + b"\x03" + s("a@b.example") + s("seats") + num +
              s("tags") + b"\x04" + varint(2) + b"\x03" + s("x") + null)
    award = s("demo") + f64(10) + f64(1.7e9) + b"\x01" + varint(1) + varint(2 * 19700) + f64(5)
    owner = (b"\x01" + s("alice") + s("enterprise") + varint(42) + b"\x01" + f64(1.7e9) +
             varint(1) + varint(2) + s("bob") + s("alice") + b"\x00" + s(""))
    v1 = b"\x01" + s("u1") + s("mql") + traits + f64(1.6e9) + f64(1.7e9) + varint(12)
    v1 += varint(1) + award + owner
    v2 = b"\x02" + v1[1:] + varint(2) + s("u1") + varint(9) + s("anon-7") + varint(3)
    bare = b"\x02" + s("u2") + s("new") + b"\x05\x00" + f64(0) + f64(0) + varint(0) + varint(0)
    bare += b"\x00" + varint(0)
    return [v1, v2, bare, traits, true]


def main():
    write("ndjson_ingest", ndjson())
    write("rule_file", rule_files())
    write("expression", expressions())
    write("subscriber_line", subscriber_lines())
    write("http_request", http_requests())
    write("lead_codec", lead_states())


if __name__ == "__main__":
    main()
