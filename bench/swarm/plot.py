"""Plot bench/swarm/results.tsv: T(N)/T(1) per (mode, C) series, against the Kumar-Ross bound
(F/C for every N when all links are C, i.e. bound/T(1) ~ 1) and HTTP's N.
Usage: python3 bench/swarm/plot.py [results.tsv] [out.png]"""
import sys
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

src = sys.argv[1] if len(sys.argv) > 1 else "bench/swarm/results.tsv"
dst = sys.argv[2] if len(sys.argv) > 2 else "bench/swarm/swarm.png"
rows = [l.rstrip("\n").split("\t") for l in open(src) if l.strip() and not l.startswith("#")]
fig, ax = plt.subplots(figsize=(6.5, 4.2))
series = sorted({(r[0], int(r[1])) for r in rows})
for mode, c in series:
    pts = sorted((int(r[2]), int(r[4]), int(r[5])) for r in rows if r[0] == mode and int(r[1]) == c)
    t1 = next((p[1] for p in pts if p[0] == 1), None)
    if t1 is None:
        continue
    ax.plot([p[0] for p in pts], [p[1] / t1 for p in pts], "o-" if mode == "swarm" else "s--", label=f"{mode}, C = {c} Mbit/s: T(N)/T(1)")
    if mode == "swarm":
        ax.plot([p[0] for p in pts], [p[1] / p[2] for p in pts], "x:", label=f"{mode}, C = {c} Mbit/s: T(N)/bound")
ax.axhline(1.3, color="gray", lw=0.8, ls="--")
ax.set_xscale("log", base=2)
ax.set_yscale("log", base=2)
ax.set_xlabel("nodes N")
ax.set_ylabel("ratio")
ax.set_title(f"{int(rows[0][3]) / 1e6:.0f} MB image, every link C (tbf)")
ax.grid(True, alpha=0.3)
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(dst, dpi=110)
print(dst)
