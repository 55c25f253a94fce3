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


def render(sections):
    """Render the markdown page."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand.",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}",
        "",
    ]
    for name, doc, rows, seconds in sections:
        lines += [f"## {name}", ""]
        if doc:
            lines += [doc.strip(), ""]
        lines += ["| Benchmark | Metric | Value | Unit | Notes |", "| --- | --- | ---: | --- | --- |"]
        for row in rows:
            lines.append(
                f"| {row['benchmark']} | {row['metric']} | {fmt(row['value'])} | {row.get('unit', '')} | {row.get('notes', '')} |"
            )
        lines += ["", f"_Script ran in {seconds:.1f} s._", ""]
    return "\n".join(lines)


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
    page = render(sections)
    if args.write:
        with open(os.path.join(ROOT, args.write) if not os.path.isabs(args.write) else args.write, "w", encoding="utf-8") as handle:
            handle.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
