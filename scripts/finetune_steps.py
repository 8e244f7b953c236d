"""How much of its step budget each fine-tune runs before early stopping ends it (on demand, not in CI).

Runs ``cpu-quick`` on a dataset, counting the optimisation steps of every fine-tune (SSL fine-tuning
and training from scratch, every learning rate, seed and label fraction), and prints, per labelled-set
size, the steps run against the budget. The Lab's estimate (``sslcore.experiments.estimate``,
``EARLY_STOP_SHARE``) counts the share measured so.

    python scripts/finetune_steps.py --dataset synthetic --out steps.json
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sslcore.evaluate import probes  # noqa: E402
from sslcore.experiments.presets import preset  # noqa: E402
from sslcore.experiments.runner import run_experiment  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="synthetic", help="synthetic, a MedMNIST flag or an .npz path")
    parser.add_argument("--out", type=Path, help="write one row per fine-tune as JSON")
    args = parser.parse_args()

    steps = {"n": 0}
    fits = []
    step, fit_one_rate = probes.finetune_step, probes._fit_one_rate

    def counted_step(*positional, **named):
        steps["n"] += 1
        return step(*positional, **named)

    def counted_fit(model, images, labels, val, task, lr, config, *rest, **named):
        steps["n"] = 0
        fit = fit_one_rate(model, images, labels, val, task, lr, config, *rest, **named)
        fits.append({"n_labelled": len(images), "lr": lr, "budget": config.n_steps(len(images)), "ran": steps["n"],
                     "check_every": config.check_every(len(images)), "best_step": fit.step})
        return fit

    probes.finetune_step, probes._fit_one_rate = counted_step, counted_fit
    run_experiment(preset("cpu-quick", args.dataset))
    totals = collections.defaultdict(lambda: [0, 0])
    for fit in fits:
        totals[fit["n_labelled"]][0] += fit["ran"]
        totals[fit["n_labelled"]][1] += fit["budget"]
    print("| labelled images | steps run | budget | share |\n|---|---|---|---|")
    for n, (ran, budget) in sorted(totals.items()):
        print(f"| {n} | {ran} | {budget} | {ran / budget:.2f} |")
    if args.out:
        args.out.write_text(json.dumps(fits, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
