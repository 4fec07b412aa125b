"""Re-saves a safetensors file with Python's safetensors library, every name under a
prefix, as training wrappers leave them (DataParallel's "module.", "model.", ...). numpy
only: no torch import, so it runs in a second.

usage: reprefix.py IN.safetensors OUT.safetensors PREFIX
Prints one JSON line: the tensors written."""
import json
import sys

from safetensors import safe_open
from safetensors.numpy import save_file


def main():
    source, target, prefix = sys.argv[1:4]
    with safe_open(source, "np") as f:
        tensors = {prefix + k: f.get_tensor(k) for k in f.keys()}
    save_file(tensors, target, metadata={"format": "pt", "note": "re-saved by tests/python/reprefix.py"})
    print(json.dumps({"tensors": len(tensors), "names": sorted(tensors)[:3]}))


if __name__ == "__main__":
    main()
