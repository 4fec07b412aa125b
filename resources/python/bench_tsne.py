#!/usr/bin/env python3
"""t-SNE side by side: contrastive-cli against openTSNE on the same embeddings.

Both run with the same thread count on the same rows of one .npy matrix, in alternation
(ours, openTSNE, ours, ...) so that whatever else the machine does weighs on both. Every
layout is then scored exactly and by the same code: KL(P || Q) with P from exact neighbours
(k = 3 x perplexity, perplexity calibration as both tools do it) and Q normalised over all
pairs, and the share of each point's 10 nearest neighbours in the embedding (exact) kept
among its 10 nearest in 2-D (exact). The scorer is `contrastive-cli tsne-quality` (O(N^2),
C++); for up to --check-size points this script also scores with its own independent torch
code and prints both, so the C++ scorer is checked against an implementation that is not
ours. Each tool's own KL figure is printed too. Medians over the repeats.

Usage (./studio bench-tsne wraps it):
  python bench_tsne.py --cli build/app/contrastive-cli --embeddings E.npy [--sizes 10000,70000]
                       [--threads 2] [--repeats 3] [--json-out results.json]
Rows: the first N rows of the matrix for each size (--last takes the last N instead).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True, help="path to contrastive-cli")
    ap.add_argument("--embeddings", required=True, help=".npy float matrix [N, D]")
    ap.add_argument("--sizes", default="10000,70000", help="comma-separated row counts (capped at N)")
    ap.add_argument("--last", action="store_true", help="take the last N rows instead of the first")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", default="", help="also write the results here")
    ap.add_argument("--check-size", type=int, default=10000,
                    help="also score with this script's torch scorer up to this many points")
    return ap.parse_args()


# ---- the shared scorer (torch, float64 where it matters) --------------------------------

def exact_knn(x, k, block=1024):
    """Indices and squared distances of each row's k nearest other rows (float32 search)."""
    import torch
    n = x.shape[0]
    sq = (x * x).sum(1)
    idx, dist = [], []
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (x[s:e] @ x.T)
        d2[torch.arange(e - s), torch.arange(s, e)] = float("inf")
        v, i = torch.topk(d2, k, dim=1, largest=False, sorted=True)
        idx.append(i)
        dist.append(v.clamp_min(0))
    return torch.cat(idx), torch.cat(dist)


def joint_probabilities(x, neighbours, perplexity):
    """Symmetric P (COO: rows, cols, values) from exact neighbours, as t-SNE defines it."""
    import torch
    n, k = neighbours.shape
    x64 = x.double()
    d2 = torch.cat([((x64[s:s + 4096, None, :] - x64[neighbours[s:s + 4096]]) ** 2).sum(2)
                    for s in range(0, n, 4096)])
    d2 = d2 - d2.min(1, keepdim=True).values
    target = np.log(perplexity)
    lo = torch.zeros(n, dtype=torch.float64)
    hi = torch.full((n,), float("inf"), dtype=torch.float64)
    mean = d2.mean(1)
    beta = torch.where(mean > 0, 1.0 / mean, torch.ones_like(mean))
    for _ in range(200):
        w = torch.exp(-beta[:, None] * d2)
        s = w.sum(1)
        h = s.log() + beta * (w * d2).sum(1) / s
        diff = h - target
        if diff.abs().max() < 1e-5:
            break
        flat = diff > 0
        new_lo = torch.where(flat, beta, lo)
        new_hi = torch.where(flat, hi, beta)
        beta = torch.where(flat, torch.where(torch.isinf(hi), 2 * beta, (beta + hi) / 2), (lo + beta) / 2)
        lo, hi = new_lo, new_hi
    cond = torch.exp(-beta[:, None] * d2)
    cond = cond / cond.sum(1, keepdim=True)
    rows = torch.arange(n).repeat_interleave(k)
    cols = neighbours.reshape(-1)
    vals = cond.reshape(-1) / (2.0 * n)
    p = torch.sparse_coo_tensor(torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])]),
                                torch.cat([vals, vals]), (n, n), check_invariants=False).coalesce()
    return p.indices()[0], p.indices()[1], p.values()


def kl_divergence(p, y, block=256):
    """KL(P || Q) with Q normalised exactly over all pairs."""
    import torch
    rows, cols, vals = p
    y = torch.as_tensor(y, dtype=torch.float64)
    n = y.shape[0]
    z = 0.0
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = ((y[s:e, None, :] - y[None, :, :]) ** 2).sum(2)
        w = 1.0 / (1.0 + d2)
        w[torch.arange(e - s), torch.arange(s, e)] = 0.0
        z += float(w.sum())
    w_pairs = 1.0 / (1.0 + ((y[rows] - y[cols]) ** 2).sum(1))
    return float((vals * (vals.log() - w_pairs.log())).sum()) + float(vals.sum()) * np.log(z)


def preservation(high10, y, block=2048):
    """Share of each point's 10 nearest neighbours in the embedding kept in the layout."""
    import torch
    y = torch.as_tensor(y, dtype=torch.float64)
    n = y.shape[0]
    kept = 0
    for s in range(0, n, block):
        e = min(n, s + block)
        d2 = ((y[s:e, None, :] - y[None, :, :]) ** 2).sum(2)
        d2[torch.arange(e - s), torch.arange(s, e)] = float("inf")
        low = torch.topk(d2, 10, dim=1, largest=False).indices
        kept += int((low[:, :, None] == high10[s:e, None, :]).any(2).sum())
    return kept / (n * 10)


# ---- the two tools ------------------------------------------------------------------------

def run_ours(cli, path, threads, seed, workdir):
    out = os.path.join(workdir, "ours.csv")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    proc = subprocess.run([cli, "tsne", "--input", path, "--threads", str(threads), "--seed", str(seed),
                           "--device", "cpu", "--no-quality", "--json", "--out", out],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit("contrastive-cli tsne failed: " + proc.stderr.strip())
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    layout = np.loadtxt(out, delimiter=",", skiprows=1, usecols=(1, 2))
    return result["seconds"], result["kl_divergence"], layout, result["method"]


def score_with_cli(cli, x_path, layout_paths, threads, perplexity):
    proc = subprocess.run([cli, "tsne-quality", "--input", x_path, "--layouts", ",".join(layout_paths),
                           "--threads", str(threads), "--perplexity", str(perplexity), "--json"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("contrastive-cli tsne-quality failed: " + proc.stderr.strip())
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return [(r["kl_divergence"], r["neighbour_preservation"]) for r in result["results"]]


def run_opentsne(x, threads, seed):
    from openTSNE import TSNE
    started = time.perf_counter()
    embedding = TSNE(n_jobs=threads, random_state=seed).fit(x)
    seconds = time.perf_counter() - started
    return seconds, float(embedding.kl_divergence), np.asarray(embedding)


def main():
    args = parse_args()
    threads = str(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    os.environ.setdefault("MKL_NUM_THREADS", threads)
    import torch
    import openTSNE
    torch.set_num_threads(args.threads)

    full = np.load(args.embeddings).astype(np.float32)
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        size = min(size, full.shape[0])
        x = np.ascontiguousarray(full[-size:] if args.last else full[:size])
        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, "x.npy")
            np.save(path, x)
            print(f"== {size} x {x.shape[1]}, {args.threads} threads, {args.repeats} repeat(s)", flush=True)
            runs = {"ours": [], "openTSNE": []}
            for r in range(args.repeats):
                s, kl, layout, method = run_ours(args.cli, path, args.threads, args.seed, workdir)
                runs["ours"].append((s, kl, layout))
                print(f"   ours     run {r + 1}: {s:7.1f} s (method {method}, own KL {kl:.4f})", flush=True)
                s, kl, layout = run_opentsne(x, args.threads, args.seed)
                runs["openTSNE"].append((s, kl, layout))
                print(f"   openTSNE run {r + 1}: {s:7.1f} s (own KL {kl:.4f})", flush=True)
            print("   scoring every layout exactly (contrastive-cli tsne-quality)...", flush=True)
            layout_paths = []
            for name, entries in runs.items():
                for r, e in enumerate(entries):
                    lp = os.path.join(workdir, f"{name}-{r}.npy")
                    np.save(lp, np.asarray(e[2], dtype=np.float32))
                    layout_paths.append(lp)
            scores = score_with_cli(args.cli, path, layout_paths, args.threads, args.perplexity)
            check = None
            if size <= args.check_size:
                xt = torch.from_numpy(x)
                xt = xt - xt.mean(0)
                k = min(size - 1, int(3 * args.perplexity))
                neighbours, _ = exact_knn(xt, k)
                p = joint_probabilities(xt, neighbours, args.perplexity)
                check = [(kl_divergence(p, np.load(lp)), preservation(neighbours[:, :10], np.load(lp)))
                         for lp in layout_paths]
                worst_kl = max(abs(a[0] - b[0]) for a, b in zip(scores, check))
                worst_nn = max(abs(a[1] - b[1]) for a, b in zip(scores, check))
                print(f"   independent torch scorer agrees: max |KL difference| {worst_kl:.2e}, "
                      f"max |10-NN difference| {worst_nn:.2e}", flush=True)
            row = {"points": size, "dims": int(x.shape[1]), "threads": args.threads, "repeats": args.repeats,
                   "opentsne_version": openTSNE.__version__}
            if check is not None:
                row["scorer_check"] = {"max_kl_difference": worst_kl, "max_preservation_difference": worst_nn}
            offset = 0
            for name, entries in runs.items():
                seconds = [e[0] for e in entries]
                scored = scores[offset:offset + len(entries)]
                offset += len(entries)
                row[name] = {"seconds": seconds, "median_seconds": statistics.median(seconds),
                             "kl": [q[0] for q in scored], "median_kl": statistics.median(q[0] for q in scored),
                             "preservation_10": [q[1] for q in scored],
                             "median_preservation_10": statistics.median(q[1] for q in scored),
                             "own_kl": [e[1] for e in entries]}
            ours, peer = row["ours"], row["openTSNE"]
            row["speedup"] = peer["median_seconds"] / ours["median_seconds"]
            row["kl_ratio"] = ours["median_kl"] / peer["median_kl"]
            row["preservation_difference"] = ours["median_preservation_10"] - peer["median_preservation_10"]
            results.append(row)
            print(f"   {'':10} {'median s':>9} {'KL (shared)':>12} {'10-NN kept':>11}")
            for name in ("ours", "openTSNE"):
                e = row[name]
                print(f"   {name:10} {e['median_seconds']:9.1f} {e['median_kl']:12.4f} {e['median_preservation_10']:11.4f}")
            print(f"   openTSNE time / ours: {row['speedup']:.2f}x; KL ours / openTSNE: {row['kl_ratio']:.4f}; "
                  f"10-NN ours - openTSNE: {row['preservation_difference']:+.4f}", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
