#!/usr/bin/env python
"""Run every benchmarks/bench_*.py and write the results table to docs/benchmarks.md.

Each bench module exposes ``run() -> list[dict]`` whose rows have the keys
``benchmark``, ``metric``, ``value``, ``unit`` and ``notes``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load(path):
    """Import one bench script by path."""
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fmt(value):
    """Format a number for the table."""
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.1f}"
    return str(value)


def previous_sections(path):
    """Return {name: markdown} of the sections already in the page, to keep those not re-run."""
    if not path or not os.path.exists(path):
        return {}
    sections, name, buf = {}, None, []
    with open(path, encoding="utf-8") as handle:
        for line in handle.read().splitlines():
            if line.startswith("## "):
                if name:
                    sections[name] = "\n".join(buf).rstrip() + "\n"
                name, buf = line[3:].strip(), [line]
            elif name:
                buf.append(line)
    if name:
        sections[name] = "\n".join(buf).rstrip() + "\n"
    return sections


def render(sections, keep=None):
    """Render the markdown page; ``keep`` holds sections of benches not run this time."""
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}",
        "",
    ]
    rendered = dict(keep or {})
    for name, doc, rows, seconds in sections:
        lines = []
        lines += [f"## {name}", ""]
        if doc:
            lines += [doc.strip(), ""]
        lines += ["| Benchmark | Metric | Value | Unit | Notes |", "| --- | --- | ---: | --- | --- |"]
        for row in rows:
            lines.append(
                f"| {row['benchmark']} | {row['metric']} | {fmt(row['value'])} | {row.get('unit', '')} | {row.get('notes', '')} |"
            )
        lines += ["", f"_Script ran in {seconds:.1f} s on {datetime.date.today().isoformat()}._", ""]
        rendered[name] = "\n".join(lines)
    return "\n".join(header + [rendered[name] for name in sorted(rendered)])


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", help="markdown file to write (default: print only)")
    parser.add_argument("only", nargs="*", help="bench names to run (default: all)")
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.join(ROOT, "collections"))
    scripts = sorted(f for f in os.listdir(HERE) if f.startswith("bench_") and f.endswith(".py"))
    if args.only:
        scripts = [f for f in scripts if f[len("bench_"):-3] in args.only]
    sections = []
    for script in scripts:
        module = load(os.path.join(HERE, script))
        start = time.perf_counter()
        rows = module.run()
        seconds = time.perf_counter() - start
        sections.append((script[len("bench_"):-3], module.__doc__, rows, seconds))
        for row in rows:
            print(f"{row['benchmark']:<45} {row['metric']:<28} {fmt(row['value']):>12} {row.get('unit', '')}")
    if args.write:
        target = args.write if os.path.isabs(args.write) else os.path.join(ROOT, args.write)
        page = render(sections, keep=previous_sections(target))
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
