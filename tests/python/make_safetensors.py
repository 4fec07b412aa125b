"""Writes ResNet weights with Python's safetensors library, as people bring them to the
studio, and the outputs torchvision computes with them.

usage: make_safetensors.py OUT_DIR
Writes in OUT_DIR: resnet18_module.safetensors (torchvision's state_dict under "module.",
with fc, float32), resnet18_f16.safetensors and resnet18_bf16.safetensors (the same weights,
no prefix, half and bfloat16), resnet18_timm.safetensors (the names as timm's resnet18
state_dict has them, under "model.", with fc), input.npy (a seeded batch, NCHW float32) and
features.npy / features_f16.npy / features_bf16.npy (torchvision's pooled features of input
with fc = Identity, in float32, for each set of weights). Prints a JSON line."""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file


def features(model, x):
    model.eval()
    with torch.no_grad():
        return model(x).numpy()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    model = torchvision.models.resnet18()
    # Batch-norm statistics other than 0/1, so that a mismatch in them shows.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(1234)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    np.save(os.path.join(out, "input.npy"), x.numpy())

    save_file({"module." + k: v for k, v in state.items()}, os.path.join(out, "resnet18_module.safetensors"),
              metadata={"format": "pt", "source": "torchvision state_dict with a DataParallel prefix"})
    # timm's resnet18 uses torchvision's names (conv1, bn1, layerN.i.*, downsample.0/1, fc);
    # checkpoints of its training scripts keep them under the wrapper's prefix.
    save_file({"model." + k: v for k, v in state.items()}, os.path.join(out, "resnet18_timm.safetensors"))
    encoder = torchvision.models.resnet18()
    encoder.load_state_dict(state)
    encoder.fc = torch.nn.Identity()
    np.save(os.path.join(out, "features.npy"), features(encoder, x))

    for name, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        low = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in state.items() if not k.startswith("fc.")}
        save_file(low, os.path.join(out, "resnet18_%s.safetensors" % name))
        # What those weights compute once read back as float32.
        back = {k: v.float() if v.is_floating_point() else v for k, v in low.items()}
        m = torchvision.models.resnet18()
        m.fc = torch.nn.Identity()
        m.load_state_dict(back, strict=True)
        np.save(os.path.join(out, "features_%s.npy" % name), features(m, x))
    print(json.dumps({"written": sorted(os.listdir(out)), "tensors": len(state)}))


if __name__ == "__main__":
    main()
