"""Plot bench/swarm/results.tsv: T(N)/T(1) per (mode, C) series, against the Kumar-Ross bound
(F/C for every N when all links are C, i.e. bound/T(1) ~ 1; none for unshaped runs, C = 0) and
HTTP's N; repeated runs of one N are averaged on the line and drawn as dots. Columns after
T_bound_ms are not plotted.
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
    runs = {}  # N -> [(T, bound)], repeated runs of one N are averaged
    for r in rows:
        if r[0] == mode and int(r[1]) == c and r[4] != "-":  # "-": no node finished
            runs.setdefault(int(r[2]), []).append((int(r[4]), None if r[5] == "-" else int(r[5])))
    if 1 not in runs:
        continue
    ns = sorted(runs)
    mean = {n: sum(t for t, _ in runs[n]) / len(runs[n]) for n in ns}
    bound = {n: runs[n][0][1] for n in ns}
    style = {"swarm": "o-", "aria2": "^-."}.get(mode, "s--")
    line = ax.plot(ns, [mean[n] / mean[1] for n in ns], style, label=f"{mode}, {f'C = {c} Mbit/s' if c else 'unshaped'}: T(N)/T(1)")[0]
    rep = [(n, t) for n in ns if len(runs[n]) > 1 for t, _ in runs[n]]
    if rep:  # each run of a repeated N, in the line's colour
        ax.plot([n for n, _ in rep], [t / mean[1] for _, t in rep], ".", color=line.get_color())
    if mode == "swarm" and bound[1] is not None:
        ax.plot(ns, [mean[n] / bound[n] for n in ns], "x:", label=f"{mode}, C = {c} Mbit/s: T(N)/bound")
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
