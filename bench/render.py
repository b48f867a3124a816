#!/usr/bin/env python3
"""Renders bench/RESULTS.md from Google Benchmark JSON files written by bench/run.sh.

Tables: the machine, the FMA peak, GroupConv2d against plain conv2d (ratio = eqnn / plain, in the
same iterations), and the kernels against ATen and memcpy. The hand-written analysis in
bench/analysis.md is appended.
"""
import json
import os
import re
import statistics
import sys

TARGET_TRAIN, TARGET_EVAL, TARGET_PEAK, TARGET_MEMCPY = 1.03, 1.01, 0.5, 2.0


def params(name):
    """'BM_X/group:0/batch:8/...' -> ('BM_X', {'group': 0, ...})"""
    parts = name.split("/")
    out = {}
    for p in parts[1:]:
        if ":" in p:
            k, v = p.split(":", 1)
            try:
                out[k] = int(v)
            except ValueError:
                out[k] = v
    return parts[0], out


def cell(text):
    """Markdown table cell: pipes escaped."""
    return str(text).replace("|", "\\|")


def fmt(x, digits=2):
    return f"{x:.{digits}f}"


def measured_peaks(paths):
    """The FMA peak per CPU, from whichever run on that CPU measured it (a filtered run may not
    have): {cpu_key: (GFLOP/s, file)}. A peak is never borrowed from another CPU: the key is the
    model name with the reported clock and CPU count (virtual machines share model names)."""
    peaks = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b["name"].startswith("BM_FmaPeak"):
                peaks.setdefault(cpu_key(data["context"]),
                                 (b["GFLOP/s"] / 1e9, os.path.basename(path)))
    return peaks


def cpu_key(ctx):
    return (ctx.get("cpu_model", "?"), ctx.get("mhz_per_cpu", "?"), ctx.get("num_cpus", "?"))


def render(path, peaks):
    with open(path) as f:
        data = json.load(f)
    ctx = data["context"]
    fallback_peak = peaks.get(cpu_key(ctx), (None, None))
    rows = [b for b in data["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    out = []
    title = os.path.splitext(os.path.basename(path))[0]
    out.append(f"## Run `{title}`\n")
    out.append("| machine | value |\n| --- | --- |")
    out.append(f"| CPU | {ctx.get('cpu_model', '?')} ({ctx.get('num_cpus', '?')} logical CPUs, "
               f"{ctx.get('mhz_per_cpu', '?')} MHz reported) |")
    out.append(f"| GPU | {ctx.get('gpu', 'none')} |")
    out.append(f"| LibTorch | {ctx.get('libtorch', '?')}, intra-op threads {ctx.get('torch_threads', '?')} |")
    out.append(f"| eqnn | {ctx.get('eqnn', '?')} |")
    out.append(f"| allocator | {ctx.get('allocator', 'tuned by the program')} |")
    out.append(f"| date | {ctx.get('date', ctx.get('date', '?'))} |\n")

    peak = None
    if fallback_peak[0] and not any(b["name"].startswith("BM_FmaPeak") for b in rows):
        peak = fallback_peak[0]
        out.append(f"FMA peak from run `{fallback_peak[1]}`: {fmt(peak, 0)} GFLOP/s (same machine).\n")
    for b in rows:
        if b["name"].startswith("BM_FmaPeak"):
            peak = b["GFLOP/s"] / 1e9
            out.append(f"**Measured fp32 FMA peak**: {fmt(peak, 0)} GFLOP/s ({b.get('label', '')}).\n")

    conv = [b for b in rows if b["name"].startswith("BM_GroupConv2d")]
    if conv:
        out.append("### GroupConv2d vs plain conv2d (same expanded shapes, same memory format)\n")
        out.append("| mode | group | batch | fields | size | format | eqnn ms | plain ms | ratio | eqnn GFLOP/s | % of peak |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        by_mode = {}
        largest_cl_eval = None
        for b in conv:
            base, p = params(b["name"])
            mode = "train step" if "Train" in base else "eval forward"
            fmt_name = "channels_last" if p.get("nhwc") else "NCHW"
            gflops = b["GFLOP/s"] / 1e9
            pct = f"{100 * gflops / peak:.0f}%" if peak else "?"
            out.append(f"| {mode} | {'C4' if p['group'] == 0 else 'D4'} | {p['batch']} | {p['fields']} | "
                       f"{p['size']} | {fmt_name} | {fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | "
                       f"{fmt(b['ratio'], 3)} | {fmt(gflops, 0)} | {pct} |")
            by_mode.setdefault((mode, fmt_name), []).append(b["ratio"])
            if mode == "eval forward" and p.get("nhwc"):
                size = p["batch"] * (p["fields"] * (8 if p["group"] else 4)) ** 2 * p["size"] ** 2
                if largest_cl_eval is None or size > largest_cl_eval[0]:
                    largest_cl_eval = (size, gflops, b["name"])
        out.append("\n**Targets** (median ratio over the cases of each mode and format):\n")
        out.append("| mode | format | median ratio | target | met |\n| --- | --- | --- | --- | --- |")
        for (mode, fmt_name), ratios in sorted(by_mode.items()):
            target = TARGET_TRAIN if mode == "train step" else TARGET_EVAL
            med = statistics.median(ratios)
            out.append(f"| {mode} | {fmt_name} | {fmt(med, 3)} | <= {target} | {'yes' if med <= target else 'NO'} |")
        if largest_cl_eval and peak:
            frac = largest_cl_eval[1] / peak
            out.append(f"\nLargest channels_last eval forward ({largest_cl_eval[2].split('/min_time')[0]}): "
                       f"{fmt(largest_cl_eval[1], 0)} GFLOP/s = {100 * frac:.0f}% of the measured peak "
                       f"(target >= {100 * TARGET_PEAK:.0f}%: {'met' if frac >= TARGET_PEAK else 'NOT met'}). "
                       "oneDNN may use Winograd for 3x3 convolutions, so 'GFLOP/s' counts direct-convolution "
                       "FLOPs and can exceed the FMA peak.\n")

    steer = [b for b in rows if b["name"].startswith("BM_SteerableConv2d")]
    if steer:
        out.append("### Steerable GroupConv2d (C8, D8) vs plain conv2d on its expanded filter (batch 8, 32x32)\n")
        out.append("| mode | group | k | fields | format | eqnn ms | plain ms | ratio | target |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for b in steer:
            base, p = params(b["name"])
            train = "Train" in base
            target = 1.05 if train else 1.01
            out.append(f"| {'train step' if train else 'eval forward (cached)'} | {'C8' if p['group'] == 0 else 'D8'} | "
                       f"{p['k']} | {p['fields']} | {'channels_last' if p.get('nhwc') else 'NCHW'} | "
                       f"{fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | {fmt(b['ratio'], 3)} | "
                       f"<= {target} ({'met' if b['ratio'] <= target else 'NOT met'}) |")
        out.append("")
    lifting = [b for b in rows if b["name"].startswith("BM_LiftingConv2d")]
    if lifting:
        out.append(f"### Lifting layer from a 1-channel image vs plain conv2d (batch 32, 32x32); "
                   f"allocator: {ctx.get('allocator', '?')}\n")
        out.append("| mode | case | eqnn ms | plain ms | ratio |")
        out.append("| --- | --- | --- | --- | --- |")
        for b in lifting:
            base, _ = params(b["name"])
            out.append(f"| {'train step' if 'Train' in base else 'eval forward'} | {cell(b.get('label', ''))} | "
                       f"{fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | {fmt(b['ratio'], 3)} |")
        out.append("")
    basis = [b for b in rows if b["name"].startswith("BM_SteerableBasis")]
    if basis:
        out.append("### Building a steerable basis and sampling it for every element\n")
        out.append("| case | ms |\n| --- | --- |")
        for b in basis:
            ms = b["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b.get("time_unit", "ms")]
            out.append(f"| {b.get('label', '')} | {fmt(ms, 3)} |")
        out.append("")

    kernels = [b for b in rows if b["name"].startswith(("BM_GroupPool", "BM_GroupAction", "BM_ExpandFilter"))]
    if kernels:
        out.append("### Kernels vs the ATen composition they replace and vs memcpy of the same bytes\n")
        out.append("| kernel | case | eqnn us | ATen us | eqnn / ATen | eqnn / memcpy | GB/s |")
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for b in kernels:
            base, _ = params(b["name"])
            out.append(f"| {base[3:]} | {b.get('label', '')} | {fmt(b['ours_us'], 0)} | {fmt(b['aten_us'], 0)} | "
                       f"{fmt(b['ratio'])} | {fmt(b['vs_memcpy'])} | {fmt(b['GB/s'], 1)} |")
        within = sum(1 for b in kernels if b["vs_memcpy"] <= TARGET_MEMCPY)
        out.append(f"\nWithin {TARGET_MEMCPY}x of memcpy: {within} of {len(kernels)} cases.\n")
    fast = [b for b in rows if b["name"].startswith("BM_ProbeFastPaths")]
    if fast:
        out.append("### What the probe's fast paths buy (N = 64, D4)\n")
        out.append("| case | fast path ms | baseline ms | ratio (< 1: the fast path is ahead) |")
        out.append("| --- | --- | --- | --- |")
        for b in fast:
            out.append(f"| {cell(b.get('label', ''))} | {fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | "
                       f"{fmt(b['ratio'], 3)} |")
        out.append("")
    def cost_table(prefix, title, measured, baseline, target_of):
        cases = [b for b in rows if b["name"].startswith(prefix)]
        if not cases:
            return
        out.append(f"### {title}\n")
        out.append(f"| model | samples N | {measured} ms | {baseline} ms | ratio | target |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for b in cases:
            samples = re.search(r"samples:(\d+)", b["name"])
            target = target_of(b)
            out.append(f"| {cell(b.get('label', ''))} | {samples.group(1) if samples else '?'} | "
                       f"{fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | "
                       f"{fmt(b['ratio'], 3)} | <= {target}: {'met' if b['ratio'] <= target else 'NOT met'} |")
        out.append("")

    cost_table("BM_ProbeCost", "Probe cost vs plain forward passes", "probe", "(\\|G\\|+1) forwards",
               lambda b: 1.25 if "TorchScript" in b["name"] else 1.1)
    cost_table("BM_LieDerivativeCost", "Lie derivatives vs plain forward passes (one generator)",
               "Lie derivatives", "3 forwards", lambda b: 1)
    # the paired benchmarks without a table of their own (training, distributed, stage sums): the label says
    # what was timed against what
    covered = ("BM_FmaPeak", "BM_GroupConv2d", "BM_SteerableConv2d", "BM_LiftingConv2d",
               "BM_SteerableBasis", "BM_GroupPool", "BM_GroupAction", "BM_ExpandFilter",
               "BM_ProbeFastPaths", "BM_ProbeCost", "BM_LieDerivativeCost")
    other = [b for b in rows if not b["name"].startswith(covered) and "ours_ms" in b]
    if other:
        out.append("### Other paired timings (ours vs the baseline the label names)\n")
        out.append("| benchmark | case | ours ms | baseline ms | ratio |")
        out.append("| --- | --- | --- | --- | --- |")
        for b in other:
            out.append(f"| {params(b['name'])[0][3:]} | {cell(b.get('label', ''))} | "
                       f"{fmt(b['ours_ms'])} | {fmt(b['baseline_ms'])} | {fmt(b['ratio'], 3)} |")
        out.append("")
    return "\n".join(out)


def main(paths):
    print("# Benchmark results\n")
    print("Generated by `bench/run.sh` (renderer: `bench/render.py`); ratios are medians of paired "
          "timings in the same run. Do not edit the tables by hand.\n")
    peaks = measured_peaks(sorted(paths))
    for path in sorted(paths):
        print(render(path, peaks))
        print()
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            print(f.read())


if __name__ == "__main__":
    main(sys.argv[1:])
