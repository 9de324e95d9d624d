"""Every method on a small data set, as a new user runs it: one `jaxclust fit` process each.

    python benchmarks/small_data.py --data-dir ../shared/data [--n 1500] [--preset small]

The data: the first-drawn ``--n`` USPS digits (16 × 16 = 256 pixels, 10 classes; drawn with
seed 0). Each method runs in its own process, ``jaxclust fit METHOD --dataset usps --subset N
--preset PRESET --no-plot --no-progress``, so each time includes Python's start, JAX's import
and every compilation — what a user waits for. Reports the process's wall time and the
printed NMI / ACC (seed 0), beside k-means'. Writes benchmarks/results/small_data.json.
"""
import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

METHODS = ("kmeans", "aekm", "dec", "idec", "dcn", "kdae", "damic", "imsat", "rim", "dac",
           "n2d", "dkm", "dkm-annealed", "vade")
LINE = re.compile(r"NMI (\S+)\s+ARI (\S+)\s+ACC (\S+)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--preset", default="small")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "small_data.json"))
    args = p.parse_args()
    rows = []
    for method in args.methods:
        cmd = [sys.executable, "-m", "jaxclust.cli", "fit", method, "--dataset", "usps",
               "--subset", str(args.n), "--preset", args.preset, "--no-plot", "--no-progress",
               "--out", f"runs/small_data/{method}"]
        if args.data_dir:
            cmd += ["--data-dir", args.data_dir]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        found = LINE.search(out.stdout)
        if out.returncode or not found:
            row = {"method": method, "wall_s": wall, "error": out.stderr.strip()[-300:]}
        else:
            nmi, ari, acc = (float(v) for v in found.groups())
            row = {"method": method, "wall_s": wall, "nmi": nmi, "ari": ari, "acc": acc}
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {"command": " ".join(["python", *sys.argv]), "machine": platform.machine(),
              "n": args.n, "preset": args.preset, "rows": rows}
    Path(args.out).write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
