"""Asks Python's safetensors library (the reference implementation) about each file given:
prints one JSON line {path: "ok" | "refused: <message>"}."""
import json
import sys

from safetensors import safe_open


def main():
    answers = {}
    for path in sys.argv[1:]:
        try:
            with safe_open(path, "np") as f:
                for k in f.keys():
                    f.get_tensor(k)
            answers[path] = "ok"
        except Exception as e:  # the library raises SafetensorError, OSError, ...
            answers[path] = "refused: %s" % e
    print(json.dumps(answers))


if __name__ == "__main__":
    main()
