#!/usr/bin/env python3
"""Writes a large valid rule file: the example rules plus N generated rules, for reload runs.

usage: bench/make_rules.py [--rules N] [--base rules/examples/default.yaml] > big.yaml

The base file's scores, stages and routing stay as they are; N rules with distinct ids
(`gen-0`, `gen-1`, ...) and distinct conditions are added at the top of its `rules:` list, in
five kinds that cycle: a fit rule on the title (a regular expression), a track event with a cap,
a page path prefix, a track event with a condition on a property, and a `once` rule on a
property. Some of them match events of bench/make_events.py, so a reload changes scores.
"""
import argparse
import sys


def generated(n: int) -> str:
    out = []
    for i in range(n):
        kind = i % 5
        out.append(f"  - id: gen-{i}\n")
        if kind == 0:
            out.append("    score: fit\n")
            out.append(f'    when: traits.title matches "(?i)\\\\bteam{i}\\\\b"\n')
            out.append(f"    points: {1 + i % 7}\n")
        elif kind == 1:
            out.append("    score: engagement\n")
            out.append(f'    when: event == "Feature {i} Used"\n')
            out.append("    points: 3\n")
            out.append("    cap: {points: 9, per: 1d}\n")
        elif kind == 2:
            out.append("    score: engagement\n")
            out.append(f'    when: type == "page" && properties.path starts_with "/docs/{i}"\n')
            out.append("    points: 1\n")
        elif kind == 3:
            out.append("    score: engagement\n")
            out.append(f'    when: event == "Webinar Attended" && properties.value == {i % 100}\n')
            out.append(f"    points: {1 + i % 3}\n")
        else:
            out.append("    score: engagement\n")
            out.append(f'    when: event == "Email Opened" && properties.plan == "plan-{i}"\n')
            out.append("    points: 1\n")
            out.append("    once: true\n")
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--base", default="rules/examples/default.yaml")
    args = parser.parse_args()
    with open(args.base, encoding="utf-8") as f:
        lines = f.readlines()
    try:
        at = lines.index("rules:\n") + 1
    except ValueError:
        sys.exit(f"make_rules.py: {args.base} has no top-level 'rules:' line")
    sys.stdout.write("".join(lines[:at]) + generated(args.rules) + "".join(lines[at:]))


if __name__ == "__main__":
    main()
