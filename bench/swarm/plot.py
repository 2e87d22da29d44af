"""Plot bench/swarm/results.tsv: makespan T(N)/T(1) of the swarm and of plain HTTP, with the
Kumar-Ross bound. Usage: python3 bench/swarm/plot.py [results.tsv] [out.png]"""
import sys
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

src = sys.argv[1] if len(sys.argv) > 1 else "bench/swarm/results.tsv"
dst = sys.argv[2] if len(sys.argv) > 2 else "bench/swarm/swarm.png"
rows = [l.rstrip("\n").split("\t") for l in open(src) if l.strip() and not l.startswith("#")]
fig, ax = plt.subplots(figsize=(6, 4))
for mode, style in (("swarm", "o-"), ("http", "s--")):
    pts = sorted((int(r[2]), int(r[4]) / 1000, int(r[5]) / 1000) for r in rows if r[0] == mode)
    if not pts:
        continue
    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{mode}: T(N)")
bound = sorted({(int(r[2]), int(r[5]) / 1000) for r in rows if r[0] == "swarm"})
if bound:
    ax.plot([b[0] for b in bound], [b[1] for b in bound], ":", color="gray", label="bound max(F/us, F/dmin, NF/(us+Σui))")
ax.set_xlabel("nodes N")
ax.set_ylabel("makespan (s)")
ax.set_title(f"{int(rows[0][3]) / 1e6:.0f} MB image, every link {rows[0][1]} Mbit/s (tbf)")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(dst, dpi=110)
print(dst)
