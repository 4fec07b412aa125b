"""The methods' losses and updates computed by lightly on the tensors the C++ suite wrote.

Usage: check_method_losses.py JOBS.json. Each job names a loss, its inputs (.npy files) and
parameters; prints one JSON object: job name -> the value (a number or a nested list)."""
import json
import sys

import numpy as np
import torch

from lightly.loss import (BarlowTwinsLoss, DCLLoss, DCLWLoss, DINOLoss, NegativeCosineSimilarity, NTXentLoss,
                          VICRegLoss)
from lightly.models.utils import update_momentum
from lightly.utils.scheduler import cosine_schedule


def load(path):
    return torch.from_numpy(np.load(path))


def mean_over_pairs(views, loss_fn):
    terms = [loss_fn(views[a], views[b]) for a in range(len(views)) for b in range(a + 1, len(views))]
    return (sum(terms) / len(terms)).item()


def run(job):
    kind, p = job["kind"], job.get("params", {})
    x = [load(f) for f in job.get("inputs", [])]
    if kind == "ntxent":
        return NTXentLoss(temperature=p["temperature"])(x[0], x[1]).item()
    if kind == "dcl":
        return DCLLoss(temperature=p["temperature"])(x[0], x[1]).item()
    if kind == "dclw":
        return DCLWLoss(temperature=p["temperature"], sigma=p["sigma"])(x[0], x[1]).item()
    if kind == "moco":
        queue = x[2]
        loss_fn = NTXentLoss(temperature=p["temperature"], memory_bank_size=tuple(queue.shape))
        loss_fn.memory_bank.bank = queue.clone()
        loss_fn.memory_bank.bank_ptr = torch.tensor([p["pointer"]], dtype=torch.long)
        query = x[0].clone().requires_grad_(True)  # a query with gradients makes the bank take the keys
        loss = loss_fn(query, x[1]).item()
        return {"loss": loss, "queue": loss_fn.memory_bank.bank.tolist(),
                "pointer": int(loss_fn.memory_bank.bank_ptr[0])}
    if kind == "negative_cosine":
        return NegativeCosineSimilarity()(x[0], x[1]).item()
    if kind == "barlow_twins":
        return BarlowTwinsLoss(lambda_param=p["lambda"])(x[0], x[1]).item()
    if kind == "vicreg":
        return VICRegLoss(lambda_param=p["invariance"], mu_param=p["variance"], nu_param=p["covariance"],
                          eps=p["eps"])(x[0], x[1]).item()
    if kind == "dino":
        t0, t1, s0, s1, center = x
        loss_fn = DINOLoss(output_dim=t0.shape[1], student_temp=p["student_temperature"],
                           center_momentum=p["center_momentum"])
        loss_fn.center = center.reshape(1, 1, -1).clone()
        loss = loss_fn([t0, t1], [s0, s1], teacher_temp=p["teacher_temperature"]).item()
        return {"loss": loss, "center": loss_fn.center.reshape(-1).tolist()}
    # Multi-crop (the two global views first, then the local ones): pairwise losses averaged
    # over every pair of views, and the global-to-local pairs of BYOL and SimSiam, as
    # lightly's DINOLoss pairs a teacher's global views with every other student view.
    if kind == "ntxent_multi":
        loss_fn = NTXentLoss(temperature=p["temperature"])
        return mean_over_pairs(x, loss_fn)
    if kind == "dcl_multi":
        return mean_over_pairs(x, DCLLoss(temperature=p["temperature"]))
    if kind == "negative_cosine_multi":
        targets, online = x[:p["targets"]], x[p["targets"]:]
        loss_fn = NegativeCosineSimilarity()
        terms = [loss_fn(online[v], targets[t]) for t in range(len(targets)) for v in range(len(online)) if v != t]
        return (sum(terms) / len(terms)).item()
    if kind == "dino_multi":
        targets, student = x[:p["targets"]], x[p["targets"]:]
        loss_fn = DINOLoss(output_dim=student[0].shape[1], student_temp=p["student_temperature"])
        return loss_fn(targets, student, teacher_temp=p["teacher_temperature"]).item()
    if kind == "cosine_schedule":
        return [cosine_schedule(s, p["max_steps"], p["start"], p["end"]) for s in p["steps"]]
    if kind == "ema":
        online, target = torch.nn.Linear(x[0].shape[1], x[0].shape[0]), torch.nn.Linear(x[0].shape[1], x[0].shape[0])
        with torch.no_grad():
            online.weight.copy_(x[0]); online.bias.copy_(x[1])
            target.weight.copy_(x[2]); target.bias.copy_(x[3])
        update_momentum(online, target, p["momentum"])
        return {"weight": target.weight.tolist(), "bias": target.bias.tolist()}
    raise SystemExit("unknown job kind " + kind)


def main():
    jobs = json.load(open(sys.argv[1]))
    print(json.dumps({job["name"]: run(job) for job in jobs}))


if __name__ == "__main__":
    main()
