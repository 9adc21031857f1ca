"""`make compare-configs`: cross-validates config.yml against each configs/*.yml on the NLU data.

For every config it runs `rasa test nlu --cross-validation` and also trains on all of data/ and scores
the held-out file tests/nlu_holdout.yml. Prints a table and writes results/compare_configs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).with_name("rasa"))
OUT = ROOT / "results" / "compare"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}


def rasa(*args: str, log: Path) -> None:
    with open(log, "w") as handle:
        subprocess.run([RASA, *args], cwd=ROOT, env=ENV, stdout=handle, stderr=subprocess.STDOUT, check=True)


def weighted_f1(report_file: Path) -> Dict[str, float]:
    report = json.loads(report_file.read_text())
    return {"accuracy": report["accuracy"], "f1": report["weighted avg"]["f1-score"]}


def evaluate(config: Path, folds: int) -> Dict[str, float]:
    name = config.stem if config.parent.name == "configs" else "config"
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    rasa("test", "nlu", "--config", str(config), "--nlu", "data", "--cross-validation",
         "--folds", str(folds), "--out", str(out / "cv"), log=out / "cv.log")  # fmt: skip
    started = time.monotonic()
    rasa("train", "nlu", "--config", str(config), "--out", str(out), "--fixed-model-name", "nlu",
         log=out / "train.log")  # fmt: skip
    train_seconds = time.monotonic() - started
    rasa("test", "nlu", "-m", str(out / "nlu.tar.gz"), "--nlu", "tests/nlu_holdout.yml",
         "--out", str(out / "holdout"), log=out / "holdout.log")  # fmt: skip
    cv = weighted_f1(out / "cv" / "intent_report.json")
    holdout = weighted_f1(out / "holdout" / "intent_report.json")
    return {
        "config": str(config.relative_to(ROOT)),
        "cv_accuracy": cv["accuracy"],
        "cv_f1": cv["f1"],
        "holdout_accuracy": holdout["accuracy"],
        "train_seconds": round(train_seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    configs = [ROOT / "config.yml", *sorted((ROOT / "configs").glob("*.yml"))]
    rows = [evaluate(config, args.folds) for config in configs]
    (ROOT / "results" / "compare_configs.json").write_text(json.dumps(rows, indent=2))
    print(f"{'config':28} {'CV accuracy':>12} {'CV F1':>7} {'held-out acc.':>14} {'train s':>8}")
    for row in rows:
        print(
            f"{row['config']:28} {row['cv_accuracy']:12.3f} {row['cv_f1']:7.3f} "
            f"{row['holdout_accuracy']:14.3f} {row['train_seconds']:8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
