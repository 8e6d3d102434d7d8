"""Plot examples/label_sim's curves (--curves FILE.csv) as benches/label_sim.png.

python3 benches/label_sim_plot.py curves.csv benches/label_sim.png   (needs matplotlib)
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
tasks = list(dict.fromkeys(r["task"] for r in rows))
fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), sharex=True)
for ax, task in zip(axes, tasks):
    curves = defaultdict(list)
    for r in rows:
        if r["task"] == task:
            curves[r["picks"]].append((int(r["labels"]), float(r["score"])))
    for picks, points in curves.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, label=picks, linestyle="--" if "random" in picks else "-")
    ax.set_title(task)
    ax.set_xlabel("labels")
    ax.set_ylabel("accuracy" if task == "all classes" else "F1 against the rest")
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
