"""Every method on Fashion-MNIST with the same wall-time budget: its own preset
(resources/presets/fashion-mnist-<method>.json), trained for as many whole epochs as fit the
budget on this machine, then measured with the same code for all: kNN (k = 20 and 200, the
whole training set as the bank, the whole test set as queries) and a linear probe on all the
labels, against raw pixels through the same kNN and probe.

Usage (from the repository root, after ./studio build):
  python3 bench/methods_budget.py --minutes 15 [--methods simclr,byol] [--runs-dir DIR]
                                  [--device cpu|cuda] [--set KEY=VALUE ...]
                                  [--out RESULTS.json] [--markdown TABLE.md]
./studio gpu-check runs it on the GPU with ResNet-18 (--device cuda --set model.backbone=resnet18).

The budget is spent on training alone (evaluation is not counted). Each method's step time
is measured first on a short run of its preset (the calibration, also reported relative to
SimCLR); the number of epochs is the budget divided by the epoch time, rounded down (at
least one), so that every run finishes its learning-rate schedule. One run at a time:
nothing else should be running on the machine.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ["simclr", "dcl", "dclw", "moco", "byol", "simsiam", "barlow_twins", "vicreg", "dino"]
CALIBRATION_STEPS = 40


def cli(args, cli_path, capture=True):
    result = subprocess.run([cli_path] + args, cwd=ROOT, capture_output=capture, text=True)
    if result.returncode != 0:
        sys.exit("contrastive-cli %s failed (%d):\n%s" % (" ".join(args), result.returncode, result.stderr))
    return result.stdout


def step_records(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if r.get("kind") == "step"]


def train(preset, sets, runs_dir, cli_path):
    args = ["train", "--config", preset, "--runs-dir", runs_dir, "--json"]
    for s in sets:
        args += ["--set", s]
    lines = [json.loads(line) for line in cli(args, cli_path).splitlines() if line.strip()]
    return next(r for r in reversed(lines) if r.get("kind") == "result")  # one JSON object per line


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--cli", default=os.path.join(ROOT, "build", "app", "contrastive-cli"))
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu", help="cpu or cuda: training and evaluation")
    parser.add_argument("--set", action="append", default=[], help="a config override for every run, e.g. "
                        "model.backbone=resnet18")
    parser.add_argument("--out", default=None, help="write the table's numbers as JSON here")
    parser.add_argument("--markdown", default=None, help="write the table as Markdown here")
    a = parser.parse_args()
    runs_dir = a.runs_dir or tempfile.mkdtemp(prefix="methods-budget-")
    common = ["train.device=%s" % a.device, "train.threads=%d" % a.threads] + a.set
    rows = []
    for method in a.methods.split(","):
        preset = os.path.join(ROOT, "resources", "presets", "fashion-mnist-%s.json" % method)
        # Calibration: the preset's own steps, no evaluation; the median of the later steps.
        calib = train(preset, common + ["train.max_steps=%d" % CALIBRATION_STEPS, "monitor.every_epochs=0",
                                        "name=calibrate-%s" % method], runs_dir, a.cli)
        steps = step_records(calib["run_dir"])
        step_s = statistics.median(r["step_ms"] for r in steps[CALIBRATION_STEPS // 4:]) / 1000.0
        with open(os.path.join(calib["run_dir"], "config.json")) as f:
            config = json.load(f)
        batch = config["train"]["batch_size"]
        steps_per_epoch = 60000 // batch
        epochs = max(1, int(a.minutes * 60.0 / (step_s * steps_per_epoch)))
        run = train(preset, common + ["train.epochs=%d" % epochs, "monitor.every_epochs=0", "name=budget-%s" % method],
                    runs_dir, a.cli)
        train_s = sum(r["step_ms"] for r in step_records(run["run_dir"])) / 1000.0  # the steps alone
        knn = {}
        for k in (20, 200):
            e = json.loads(cli(["eval", run["run_dir"], "--k", str(k), "--bank", "0", "--queries", "0", "--json",
                                "--device", a.device], a.cli))
            knn[k] = (e["knn_top1"], e["raw_pixel_knn_top1"])
        study = json.loads(cli(["probe", run["run_dir"], "--labels", "100%", "--seeds", "1", "--bank", "0",
                                "--queries", "0", "--arms", "pretrained,raw-pixels", "--classifiers", "linear",
                                "--json", "--device", a.device], a.cli))
        probe = {c["representation"]: c["top1_mean"] for c in study["cells"] if c["classifier"] == "linear probe"}
        row = {"method": method, "batch": batch, "epochs": epochs, "steps": epochs * steps_per_epoch,
               "step_ms": step_s * 1000.0, "train_minutes": train_s / 60.0,
               "knn20": knn[20][0], "knn200": knn[200][0], "probe": probe.get("pretrained"),
               "pixels_knn20": knn[20][1], "pixels_knn200": knn[200][1], "pixels_probe": probe.get("raw-pixels"),
               "run_dir": run["run_dir"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    simclr = next((r for r in rows if r["method"] == "simclr"), None)
    table = ["| method | batch | epochs (steps) | step time vs SimCLR | train min | kNN k=20 | kNN k=200 | linear probe |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rel = "%.2fx" % (r["step_ms"] / simclr["step_ms"]) if simclr else "-"
        table.append("| %s | %d | %d (%d) | %s | %.1f | %.2f%% | %.2f%% | %.2f%% |" % (
            r["method"], r["batch"], r["epochs"], r["steps"], rel, r["train_minutes"], 100 * r["knn20"],
            100 * r["knn200"], 100 * (r["probe"] or math.nan)))
    if rows:
        r = rows[0]
        table.append("| raw pixels | | | | | %.2f%% | %.2f%% | %.2f%% |" % (
            100 * r["pixels_knn20"], 100 * r["pixels_knn200"], 100 * (r["pixels_probe"] or math.nan)))
    print("\n" + "\n".join(table))
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("\n".join(table) + "\n")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"minutes": a.minutes, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
