#!/usr/bin/python3
"""Times AdminService.TrainModels stage by stage (docs/PERFORMANCE.md, TrainModels with
`threads`): prints the second each stage started at, then the total, the model version and
the categorizer's validation figures.

  PYTHONPATH=build/client/python:client/python /usr/bin/python3 bench/train_stages.py \
      ADDR [FIELD=VALUE ...]

FIELD=VALUE are integer fields of TrainModelsRequest (e.g. threads=2 epoch=25).
"""
import sys
import time

from kgclient import KgClient


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    fields = {}
    for a in argv[2:]:
        name, _, value = a.partition("=")
        fields[name] = int(value)
    start = time.monotonic()
    last = [None]

    def on_progress(m):
        if m.stage != last[0]:
            print(f"{time.monotonic() - start:7.1f} s  {m.fraction:5.2f}  {m.stage}", flush=True)
            last[0] = m.stage

    done = KgClient(argv[1]).train_models(on_progress=on_progress, **fields)
    c = done.categorizer
    print(f"{time.monotonic() - start:7.1f} s  done: model {done.model_version}, validation "
          f"depth 1/2/3 {c.accuracy_depth1:.4f} / {c.accuracy_depth2:.4f} / "
          f"{c.accuracy_depth3:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
