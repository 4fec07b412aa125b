"""Loads studio safetensors exports into torchvision (or the reference ConvNet) and
compares their outputs with the studio's on the same inputs. One process for many checks:
importing torch and torchvision takes seconds.

usage: check_torchvision.py JOBS.json
JOBS.json: a list of {"weights", "architecture", "input", "expected", "classifier": bool}
(paths; input and expected are .npy). Prints one JSON line: a list with, per job,
max_abs_diff, the output shape and the missing and unexpected keys of load_state_dict."""
import json
import sys

import numpy as np
import torch
from safetensors.torch import load_file

import studio_models


def check(job):
    arch = json.load(open(job["architecture"]))
    classifier = job.get("classifier", False)
    model = studio_models.build(arch, arch.get("num_classes") if classifier else None)
    # strict=False only for the classifier an encoder export leaves out; anything else
    # missing or unexpected is reported, and the test fails on it.
    result = model.load_state_dict(load_file(job["weights"]), strict=False)
    if not classifier:
        model.fc = torch.nn.Identity()  # the pooled features before the classifier
    model.eval()
    x = torch.from_numpy(np.load(job["input"]))
    with torch.no_grad():
        y = model(x).numpy()
    return {
        "max_abs_diff": float(np.abs(y - np.load(job["expected"])).max()),
        "shape": list(y.shape),
        "missing": list(result.missing_keys),
        "unexpected": list(result.unexpected_keys),
    }


def main():
    jobs = json.load(open(sys.argv[1]))
    print(json.dumps([check(job) for job in jobs]))


if __name__ == "__main__":
    main()
