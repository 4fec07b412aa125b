#!/usr/bin/env python3
"""The peer of the training benchmark: SimCLR written the standard PyTorch way, with the
public `lightly` library (NTXentLoss, ProjectionHead) and torchvision v2 transforms in a
DataLoader with worker processes. Same torch, model (ported layer for layer from
core/model/models.cpp), batch, augmentation settings, loss and optimizer as the studio; the
settings come from `studio-bench configs`, the images from `studio-bench prepare`.

With --aug gpu the peer augments on the GPU instead: the DataLoader only gathers uint8
batches, and the augmentation runs batched on the device in plain torch operations (the
same operations as core/augment/augment.cpp's reference, per-view random parameters) - what a
Python user who moved augmentation to the GPU would write.

Prints one JSON line with the fields of `studio-bench run`: images/s from the plain steps,
the step's breakdown (augmentation = waiting for the views on the device, forward+backward,
loss, optimizer) from the profiled steps.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="JSON of one entry of `studio-bench configs`")
    p.add_argument("--data", required=True, help="the .npy (uint8 NCHW) written by studio-bench prepare")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--profile-steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads of the main process (0 = all cores)")
    p.add_argument("--workers", type=int, default=-1, help="DataLoader workers (-1 = one per core)")
    p.add_argument("--aug", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--channels-last", action="store_true")
    return p.parse_args()


# --- the model, as core/model/models.cpp builds it -------------------------------------------

def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


def convnet(channels, width):
    w = width
    return nn.Sequential(
        conv(channels, w, 3), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        conv(w, 2 * w, 3), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        conv(2 * w, 4 * w, 3), nn.BatchNorm2d(4 * w), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten()), 4 * w


def resnet18_cifar(channels):
    import torchvision
    m = torchvision.models.resnet18()
    # CIFAR stem: a 3x3 stride-1 convolution, no max-pooling (core/model/models.cpp's ResNetImpl).
    m.conv1 = conv(channels, 64, 3)
    nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
    m.maxpool = nn.Identity()
    m.fc = nn.Identity()
    return m, 512


class SimCLR(nn.Module):
    def __init__(self, backbone, features, head_dims):
        super().__init__()
        from lightly.models.modules.heads import ProjectionHead
        self.backbone = backbone
        blocks, d = [], features
        for h in head_dims[:-1]:
            blocks.append((d, h, nn.BatchNorm1d(h), nn.ReLU()))  # Linear without bias, BN, ReLU
            d = h
        blocks.append((d, head_dims[-1], None, None))             # plain Linear with bias
        self.head = ProjectionHead(blocks)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model(cfg):
    m = cfg["model"]
    if m["backbone"] == "convnet":
        backbone, features = convnet(cfg["channels"], m["width"])
    elif m["backbone"] == "resnet18":
        backbone, features = resnet18_cifar(cfg["channels"])
    else:
        raise SystemExit("peer: backbone %s is not ported" % m["backbone"])
    return SimCLR(backbone, features, m["head_dims"])


# --- augmentation on the CPU: torchvision v2 in DataLoader workers ---------------------

def blur_kernel(aug, out):
    return aug["blur_kernel"] or (max(3, out // 10) | 1)


def cpu_transform(cfg, mean, std):
    from torchvision.transforms import v2
    aug, channels = cfg["augment"], cfg["channels"]
    out = aug["out_size"] or cfg["size"]
    t = []
    if aug["crop"]:
        t.append(v2.RandomResizedCrop(out, scale=(aug["crop_scale_min"], aug["crop_scale_max"]),
                                      ratio=(aug["crop_ratio_min"], aug["crop_ratio_max"]), antialias=True))
    elif out != cfg["size"]:
        t.append(v2.Resize((out, out), antialias=True))
    if aug["flip_p"] > 0:
        t.append(v2.RandomHorizontalFlip(aug["flip_p"]))
    if aug["jitter_p"] > 0:
        color = channels == 3
        t.append(v2.RandomApply([v2.ColorJitter(aug["brightness"], aug["contrast"], aug["saturation"] if color else 0,
                                                aug["hue"] if color else 0)], p=aug["jitter_p"]))
    if channels == 3 and aug["grayscale_p"] > 0:
        t.append(v2.RandomGrayscale(aug["grayscale_p"]))
    if aug["blur_p"] > 0:
        t.append(v2.RandomApply([v2.GaussianBlur(blur_kernel(aug, out), sigma=(aug["blur_sigma_min"], aug["blur_sigma_max"]))],
                                p=aug["blur_p"]))
    if aug["solarize_p"] > 0:
        t.append(v2.RandomSolarize(threshold=aug["solarize_threshold"] * 255, p=aug["solarize_p"]))
    t += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(t)


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        img = torch.from_numpy(np.array(self.images[i]))  # a writable copy of the mapped row
        if self.transform is None:
            return img
        return self.transform(img), self.transform(img)


# --- augmentation on the GPU: batched torch ops, per-view parameters --------------------

def gpu_augment(x_u8, cfg, mean, std, gen):
    """uint8 [N,C,H,W] on the device -> normalised float views, each with its own draws."""
    aug, dev = cfg["augment"], x_u8.device
    n, c, h, w = x_u8.shape
    out = aug["out_size"] or cfg["size"]
    x = x_u8.float().div_(255)
    u = lambda *shape: torch.rand(*shape, generator=gen, device="cpu").to(dev)
    # Random resized crop as torchvision samples it: ten tries, else the central box.
    if aug["crop"]:
        area = h * w * (aug["crop_scale_min"] + (aug["crop_scale_max"] - aug["crop_scale_min"]) * u(n, 10))
        lr = math.log(aug["crop_ratio_min"]), math.log(aug["crop_ratio_max"])
        ratio = torch.exp(lr[0] + (lr[1] - lr[0]) * u(n, 10))
        cw, ch = torch.sqrt(area * ratio).round(), torch.sqrt(area / ratio).round()
        ok = (cw > 0) & (ch > 0) & (cw <= w) & (ch <= h)
        first = torch.where(ok.any(1), ok.float().argmax(1), torch.zeros(n, dtype=torch.long, device=dev))
        cw = torch.where(ok.any(1), cw.gather(1, first[:, None])[:, 0], torch.full((n,), float(w), device=dev))
        ch = torch.where(ok.any(1), ch.gather(1, first[:, None])[:, 0], torch.full((n,), float(h), device=dev))
        cx = torch.minimum(torch.floor(u(n) * (w - cw + 1)), w - cw)
        cy = torch.minimum(torch.floor(u(n) * (h - ch + 1)), h - ch)
    else:
        cw, ch = torch.full((n,), float(w), device=dev), torch.full((n,), float(h), device=dev)
        cx, cy = torch.zeros(n, device=dev), torch.zeros(n, device=dev)
    sign = 1 - 2 * (u(n) < aug["flip_p"]).float()
    theta = torch.zeros(n, 2, 3, device=dev)
    theta[:, 0, 0] = cw / w * sign
    theta[:, 0, 2] = 2 * cx / w + cw / w - 1
    theta[:, 1, 1] = ch / h
    theta[:, 1, 2] = 2 * cy / h + ch / h - 1
    grid = F.affine_grid(theta, (n, c, out, out), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    col = lambda v: v.view(-1, 1, 1, 1)
    gray = lambda t: (0.299 * t[:, 0] + 0.587 * t[:, 1] + 0.114 * t[:, 2]).unsqueeze(1)
    jit = (u(n) < aug["jitter_p"]).float()
    factor = lambda s: col(1 + jit * (2 * u(n) - 1) * s)
    x = (x * factor(aug["brightness"])).clamp(0, 1)
    m = (gray(x) if c == 3 else x).mean((1, 2, 3), keepdim=True)
    x = ((x - m) * factor(aug["contrast"]) + m).clamp(0, 1)
    if c == 3:
        g = gray(x)
        x = ((x - g) * factor(aug["saturation"]) + g).clamp(0, 1)
        if aug["hue"] > 0:
            shift = col(jit * (2 * u(n) - 1) * aug["hue"])[:, 0]
            r, gg, b = x[:, 0], x[:, 1], x[:, 2]
            maxc, minc = x.max(1).values, x.min(1).values
            d = maxc - minc
            sd = torch.where(d > 0, d, torch.ones_like(d))
            sat = torch.where(maxc > 0, d / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc))
            hue = torch.where(maxc == r, (gg - b) / sd, torch.where(maxc == gg, 2 + (b - r) / sd, 4 + (r - gg) / sd))
            hue = torch.remainder(torch.where(d > 0, hue / 6, torch.zeros_like(hue)) + shift, 1)
            x = torch.stack([maxc - maxc * sat * torch.clamp(torch.minimum(k, 4 - k), 0, 1)
                             for k in (torch.remainder(nn_ + hue * 6, 6) for nn_ in (5.0, 3.0, 1.0))], 1)
        if aug["grayscale_p"] > 0:
            gsel = col((u(n) < aug["grayscale_p"]).float())
            x = x * (1 - gsel) + gray(x) * gsel
    if aug["blur_p"] > 0:
        k = blur_kernel(aug, out)
        r = k // 2
        sig = torch.where(u(n) < aug["blur_p"],
                          aug["blur_sigma_min"] + (aug["blur_sigma_max"] - aug["blur_sigma_min"]) * u(n),
                          torch.zeros(n, device=dev))[:, None]
        off = torch.arange(-r, r + 1, device=dev, dtype=torch.float32)[None]
        wts = torch.exp(-off ** 2 / (2 * sig.clamp_min(1e-6) ** 2))
        wts = torch.where(sig > 0, wts, (off == 0).float().expand(n, k))
        wts = (wts / wts.sum(1, keepdim=True)).repeat_interleave(c, 0)
        p = x.reshape(1, n * c, out, out)
        p = F.conv2d(F.pad(p, (r, r, 0, 0), mode="reflect"), wts.view(n * c, 1, 1, k), groups=n * c)
        p = F.conv2d(F.pad(p, (0, 0, r, r), mode="reflect"), wts.view(n * c, 1, k, 1), groups=n * c)
        x = p.view(n, c, out, out).clamp(0, 1)
    if aug["solarize_p"] > 0:
        sol = col((u(n) < aug["solarize_p"]).float()) > 0.5
        x = torch.where(sol & (x >= aug["solarize_threshold"]), 1 - x, x)
    mean_t = torch.tensor(mean, device=dev).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=dev).view(1, -1, 1, 1)
    return (x - mean_t) / std_t


# --- the benchmark ---------------------------------------------------------------------

def main():
    a = parse_args()
    cfg = json.loads(a.config)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    stats = json.load(open(a.data[:-4] + ".json"))
    mean, std = stats["mean"], stats["std"]
    images = np.load(a.data, mmap_mode="r")
    torch.manual_seed(0)

    model = build_model(cfg).to(device)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    from lightly.loss import NTXentLoss
    criterion = NTXentLoss(temperature=cfg["method"]["temperature"])
    o = cfg["optim"]
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=o["lr"])

    workers = (os.cpu_count() or 1) if a.workers < 0 else a.workers
    transform = cpu_transform(cfg, mean, std) if a.aug == "cpu" else None
    loader = torch.utils.data.DataLoader(
        TwoViews(images, transform), batch_size=a.batch, shuffle=True, drop_last=True, num_workers=workers,
        pin_memory=cuda, persistent_workers=workers > 0, prefetch_factor=2 if workers > 0 else None)
    gen = torch.Generator().manual_seed(0)

    def sync():
        if cuda:
            torch.cuda.synchronize()

    total = a.warmup + a.steps + a.profile_steps
    plain, phases, losses = [], {k: [] for k in ("step", "augment", "forward", "loss", "backward", "optimizer")}, []
    batches = iter(loader)
    model.train()
    t_start = time.perf_counter()
    for step in range(total):
        profile = step >= a.warmup + a.steps
        t0 = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(loader)
            batch = next(batches)
        if a.aug == "cpu":
            views = torch.cat(batch).to(device, non_blocking=True)
        else:
            x = batch.to(device, non_blocking=True)
            views = torch.cat([gpu_augment(x, cfg, mean, std, gen), gpu_augment(x, cfg, mean, std, gen)])
        if a.channels_last:
            views = views.contiguous(memory_format=torch.channels_last)
        if profile:
            sync()
        t1 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            z = model(views)
        if profile:
            sync()
        t2 = time.perf_counter()
        z0, z1 = z.float().chunk(2)
        loss = criterion(z0, z1)
        if profile:
            sync()
        t3 = time.perf_counter()
        loss.backward()
        if profile:
            sync()
        t4 = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        t5 = time.perf_counter()
        ms = lambda s, e: (e - s) * 1000
        if a.warmup <= step < a.warmup + a.steps:
            plain.append(ms(t0, t5))
        if profile:
            for k, v in (("step", ms(t0, t5)), ("augment", ms(t0, t1)), ("forward", ms(t1, t2)), ("loss", ms(t2, t3)),
                         ("backward", ms(t3, t4)), ("optimizer", ms(t4, t5))):
                phases[k].append(v)
    wall = time.perf_counter() - t_start
    med = lambda v: statistics.median(v) if v else 0.0
    step_ms = med(plain)
    fwd_bwd = med(phases["forward"]) + med(phases["backward"])
    profiled = med(phases["step"])
    macs = cfg["forward_macs_per_image"]
    flop = 3 * 2 * macs * 2 * a.batch
    import lightly
    import torchvision
    print(json.dumps({
        "side": "peer", "config": cfg["name"], "device": a.device,
        "device_name": torch.cuda.get_device_name(device) if cuda else "cpu (%d threads)" % torch.get_num_threads(),
        "batch": a.batch, "threads": torch.get_num_threads(), "workers": workers, "aug": a.aug,
        "precision": a.precision, "channels_last": a.channels_last,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "lightly": lightly.__version__},
        "step_ms": step_ms, "step_ms_all": plain, "images_per_s": 1000 * a.batch / step_ms if step_ms else 0,
        "profiled_step_ms": profiled, "augment_ms": med(phases["augment"]), "forward_backward_ms": fwd_bwd,
        "loss_ms": med(phases["loss"]), "optimizer_ms": med(phases["optimizer"]),
        "outside_forward_backward": 1 - fwd_bwd / profiled if profiled else 0,
        "model_tflop_per_step": flop / 1e12, "achieved_tflops": flop / (step_ms / 1000) / 1e12 if step_ms else 0,
        "first_loss": losses[0], "last_loss": losses[-1], "wall_seconds": wall}))


if __name__ == "__main__":
    sys.exit(main())
