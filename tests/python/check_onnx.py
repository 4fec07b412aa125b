"""Runs studio ONNX exports in onnxruntime and compares with the studio's outputs.

usage: check_onnx.py JOBS.json
JOBS.json: a list of {"model", "input", "expected", "expected_logits" (optional)} (paths;
.npy arrays). Prints one JSON line: a list with, per job, max_abs_diff (features, and
logits when given), the same for one image alone (the batch is dynamic), the opset and IR
version read from the file, the input/output shapes and the metadata_props."""
import json
import sys

import numpy as np
import onnxruntime as ort


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(buf):
    """Top-level protobuf fields as (number, wire type, value) without the onnx package."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, wire, value


def opsets(path):
    """ModelProto: ir_version = field 1, opset_import = field 8 (domain 1, version 2)."""
    data = open(path, "rb").read()
    ir_version, found = None, {}
    for number, wire, value in fields(data):
        if number == 1 and wire == 0:
            ir_version = value
        elif number == 8 and wire == 2:
            domain, version = "", None
            for n, w, v in fields(value):
                if n == 1:
                    domain = v.decode()
                elif n == 2:
                    version = v
            found[domain] = version
    return ir_version, found


def check(job):
    model = job["model"]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = np.load(job["input"])
    outputs = session.run(None, {"images": x})
    names = [o.name for o in session.get_outputs()]
    features = outputs[names.index("features")]
    result = {"max_abs_diff": float(np.abs(features - np.load(job["expected"])).max())}
    if job.get("expected_logits"):
        logits = outputs[names.index("logits")]
        result["logits_max_abs_diff"] = float(np.abs(logits - np.load(job["expected_logits"])).max())
    # The batch dimension is dynamic: one image alone gives the first row of the batch's answer.
    single = session.run(None, {"images": x[:1]})[names.index("features")]
    result["single_vs_batch_max_abs_diff"] = float(np.abs(single - features[:1]).max())
    ir_version, opset = opsets(model)
    result.update({
        "ir_version": ir_version,
        "opset": opset.get(""),
        "inputs": [[i.name, i.shape] for i in session.get_inputs()],
        "outputs": [[o.name, o.shape] for o in session.get_outputs()],
        "metadata": session.get_modelmeta().custom_metadata_map,
    })
    return result


def main():
    print(json.dumps([check(job) for job in json.load(open(sys.argv[1]))]))


if __name__ == "__main__":
    main()
