#!/usr/bin/env python3
"""The training benchmark: the studio (studio-bench) and the Python peer
(bench/peer_simclr.py: lightly + torchvision v2 in a DataLoader with workers) side by side in
one run, on the same machine, data, model, batch, augmentation settings and loss, taking
turns (ours, peer, peer, ours, ...) so that a busy machine slows both alike.

For each configuration and batch size it reports images/s (one image = one pair of views)
of both, their ratio (the headline), the step's breakdown (augmentation, forward+backward,
loss, optimizer) and the share of the step outside forward+backward. On a GPU also: the
studio on a fixed pre-augmented batch (what a step costs without augmentation), the peer
with GPU-side augmentation, and the achieved TFLOP/s against the measured bf16 matrix-product
rate.

  run_bench.py --studio-bench build/bench/studio-bench [--device cpu|cuda] [--quick]
               [--configs convnet28,resnet18-32] [--batches 256,512] [--repeats N]
               [--json FILE] [--markdown FILE]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Steps per configuration: (warmup, timed, profiled). Plain steps give images/s; profiled
# steps (the device synchronised between phases) give the breakdown.
STEPS = {
    ("cpu", "convnet28"): (2, 6, 3),
    ("cpu", "resnet18-32"): (1, 2, 1),
    ("cpu", "resnet18-96"): (1, 1, 1),
    ("cuda", "convnet28"): (10, 30, 10),
    ("cuda", "resnet18-32"): (10, 30, 10),
    ("cuda", "resnet18-96"): (5, 20, 5),
}
QUICK = {"cpu": [("convnet28", 256), ("convnet28", 512), ("resnet18-32", 256)],
         "cuda": [("convnet28", 512), ("resnet18-32", 512), ("resnet18-96", 256)]}
ALL_CONFIGS = ["convnet28", "resnet18-32", "resnet18-96"]
ALL_BATCHES = [256, 512, 1024]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--studio-bench", required=True)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="a few steps of a small subset (see QUICK)")
    p.add_argument("--configs", default="", help="comma-separated subset of " + ",".join(ALL_CONFIGS))
    p.add_argument("--batches", default="", help="comma-separated batch sizes (default 256,512,1024)")
    p.add_argument("--repeats", type=int, default=1, help="turns per side (medians are reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads, both sides (0 = all cores)")
    p.add_argument("--workers", type=int, default=-1, help="peer DataLoader workers (-1 = one per core)")
    p.add_argument("--work-dir", default="")
    p.add_argument("--json", default="", help="write every raw result here")
    p.add_argument("--markdown", default="", help="write the tables here (also printed)")
    p.add_argument("--no-peer", action="store_true")
    return p.parse_args()


FAILED = []  # every command that failed: the benchmark then exits 1, whatever it could still print


def run_json(cmd, env=None):
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write("command failed (%d): %s\n%s\n" % (proc.returncode, " ".join(cmd), proc.stderr[-3000:]))
        FAILED.append(" ".join(cmd[:2]) + " (exit %d)" % proc.returncode)
        return None
    r = json.loads(lines[-1])
    r["command_seconds"] = time.time() - t0
    return r


def peer_missing():
    try:
        import lightly  # noqa: F401
        import torchvision  # noqa: F401
        return ""
    except ImportError as e:
        return str(e)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    return "-" if v is None else ("%.*f" % (digits, v))


def main():
    a = parse_args()
    sb = a.studio_bench
    configs = {c["name"]: c for c in json.loads(subprocess.check_output([sb, "configs"], text=True))}
    if a.configs or a.batches or not a.quick:
        names = a.configs.split(",") if a.configs else ALL_CONFIGS
        batches = [int(b) for b in a.batches.split(",")] if a.batches else ALL_BATCHES
        plan = [(n, b) for n in names for b in batches]
    else:
        plan = QUICK[a.device]
    for n, _ in plan:
        if n not in configs:
            raise SystemExit("unknown config %s (have %s)" % (n, ", ".join(configs)))
    missing = "" if not a.no_peer else "--no-peer"
    if not missing:
        missing = peer_missing()
    work = a.work_dir or tempfile.mkdtemp(prefix="studio-bench-")
    cpu_count = os.cpu_count() or 1
    threads = a.threads or cpu_count
    print("studio bench: %s, %d cores, %s; work dir %s" % (platform.node(), cpu_count, a.device, work), flush=True)
    if missing:
        print("peer not run: %s" % missing, flush=True)

    peak = None
    if a.device == "cuda":
        peak = run_json([sb, "matmul", "--device", "cuda"])
        if peak:
            print("measured bf16 matrix product (8192^3): %.1f TFLOP/s on %s" % (peak["tflops"], peak["device_name"]), flush=True)

    prepared = {}
    results = []
    for name, batch in plan:
        warmup, steps, profile = STEPS[(a.device, name)]
        if a.quick:
            steps = max(1, steps // 2)
        need = batch * 4
        if name not in prepared or prepared[name]["images"] < need:
            images = max(need, 4096) if configs[name]["data"] == "bars" else min(60000, max(need, 4096))
            prepared[name] = run_json([sb, "prepare", "--config", name, "--images", str(images), "--out", work])
            if prepared[name] is None:
                raise SystemExit("could not prepare %s" % name)
        data = prepared[name]
        common = ["--batch", str(batch), "--warmup", str(warmup), "--steps", str(steps), "--profile-steps", str(profile),
                  "--threads", str(threads)]
        ours_cmd = [sb, "run", "--config", name, "--data", data["csds"], "--device", a.device,
                    "--runs-dir", os.path.join(work, "runs")] + common
        peer_base = [sys.executable, os.path.join(HERE, "peer_simclr.py"), "--config", json.dumps(configs[name]),
                     "--data", data["npy"], "--device", a.device, "--workers", str(a.workers)] + common
        if a.device == "cuda":
            peer_base += ["--precision", "bf16", "--channels-last"]  # the studio's defaults on a GPU
        runs = {"ours": [], "peer": []}
        if a.device == "cuda":
            runs.update({"ours_fixed": [], "peer_gpu_aug": []})
        for r in range(a.repeats):
            order = ["ours", "peer"] if r % 2 == 0 else ["peer", "ours"]
            if a.device == "cuda":
                order += ["ours_fixed", "peer_gpu_aug"]
            for side in order:
                if side.startswith("peer") and missing:
                    continue
                if side == "ours":
                    res = run_json(ours_cmd)
                elif side == "ours_fixed":
                    res = run_json(ours_cmd + ["--fixed-views"])
                elif side == "peer":
                    res = run_json(peer_base + ["--aug", "cpu"])
                else:
                    res = run_json(peer_base + ["--aug", "gpu"])
                if res:
                    res["role"] = side
                    runs[side].append(res)
                    results.append(res)
                    print("  %-11s %-12s batch %5d: %8.1f images/s, step %8.1f ms" % (side, name, batch, res["images_per_s"],
                                                                                      res["step_ms"]), flush=True)
        row = {"config": name, "batch": batch}
        for side, rs in runs.items():
            row[side] = {k: med([x.get(k) for x in rs]) for k in ("images_per_s", "step_ms", "augment_ms",
                                                                  "augment_host_work_ms", "forward_backward_ms",
                                                              "loss_ms", "optimizer_ms", "outside_forward_backward",
                                                              "achieved_tflops")} if rs else None
            if rs:
                row[side]["plan"] = rs[0].get("plan", "")
        results.append({"role": "summary", **row})

    # On the CPU: which applier is faster for one step's views (the engine's choice).
    applier = []
    if a.device == "cpu":
        for name, batch in plan:
            for t in sorted({1, threads}):
                res = run_json([sb, "augment", "--config", name, "--data", prepared[name]["csds"], "--batch", str(batch),
                                "--threads", str(t)])
                if res:
                    applier.append(res)
                    results.append({"role": "augment", **res})

    # The tables.
    lines = []
    rows = [r for r in results if r.get("role") == "summary"]
    lines.append("| config | batch | studio images/s | peer images/s | ratio | studio: aug / fwd+bwd / loss / opt ms (outside fwd+bwd) "
                 "| peer: aug / fwd+bwd / loss / opt ms (outside fwd+bwd) |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in rows:
        o, p = r["ours"], r["peer"]
        ratio = o["images_per_s"] / p["images_per_s"] if o and p and p["images_per_s"] else None
        def breakdown(x):
            if not x:
                return "-"
            aug = fmt(x["augment_ms"], 1)
            if x.get("augment_host_work_ms") is not None:
                aug += " [%s]" % fmt(x["augment_host_work_ms"], 1)
            return "%s / %s / %s / %s (%s%%)" % (aug, fmt(x["forward_backward_ms"], 1), fmt(x["loss_ms"], 1),
                                                 fmt(x["optimizer_ms"], 1), fmt(100 * x["outside_forward_backward"], 0))
        lines.append("| %s | %d | %s | %s | **%s** | %s | %s |" % (r["config"], r["batch"], fmt(o and o["images_per_s"]),
                                                                  fmt(p and p["images_per_s"]), fmt(ratio, 2) + "x" if ratio else "-",
                                                                  breakdown(o), breakdown(p)))
    if a.device == "cuda":
        lines.append("")
        lines.append("| config | batch | studio step / fixed-batch step | peer (GPU augmentation) images/s | studio vs peer-GPU-aug "
                     "| studio TFLOP/s (of %s bf16 peak) |" % (fmt(peak and peak["tflops"], 0)))
        lines.append("|---|---|---|---|---|---|")
        for r in rows:
            o, f, g = r["ours"], r.get("ours_fixed"), r.get("peer_gpu_aug")
            within = o["step_ms"] / f["step_ms"] if o and f and f["step_ms"] else None
            vs = o["images_per_s"] / g["images_per_s"] if o and g and g["images_per_s"] else None
            share = 100 * o["achieved_tflops"] / peak["tflops"] if o and peak else None
            lines.append("| %s | %d | %s | %s | %s | %s (%s%%) |" % (
                r["config"], r["batch"], fmt(within, 2) + "x" if within else "-", fmt(g and g["images_per_s"]),
                fmt(vs, 2) + "x" if vs else "-", fmt(o and o["achieved_tflops"], 1), fmt(share, 0)))
    if applier:
        lines.append("")
        lines.append("| config | views | threads | fused applier ms | torch-ops pipeline ms | fused faster by |")
        lines.append("|---|---|---|---|---|---|")
        for r in applier:
            lines.append("| %s | %d | %d | %.1f | %.1f | %.2fx |" % (r["config"], r["views"], r["threads"], r["fused_ms"],
                                                              r["torch_ops_ms"], r["torch_ops_ms"] / r["fused_ms"]))
    plans = sorted({r["ours"]["plan"].split("; ", 1)[-1] for r in rows if r.get("ours")})
    lines.append("")
    lines.append("Milliseconds are medians of the profiled steps (device synchronised between phases); aug is the "
                 "step's wait for its views, [bracketed] the host's work on them, done ahead on the prefetch thread. "
                 "images/s (pairs of views) are medians of the plain steps.")
    lines.append("")
    lines.append("Studio engine: " + " | ".join(plans))
    text = "\n".join(lines)
    print()
    print(text, flush=True)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"device": a.device, "host": platform.node(), "cores": cpu_count, "peak": peak, "results": results}, f,
                      indent=1)
    if FAILED:
        sys.stderr.write("%d command(s) failed, their cells are '-': %s\n" % (len(FAILED), "; ".join(FAILED)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
