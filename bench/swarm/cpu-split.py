#!/usr/bin/env python3
"""bench/swarm/cpu-split.py: a node's CPU by image size, split into what it spends once and per GB.

    python3 bench/swarm/cpu-split.py <results.tsv> <C Mbit/s> [after]

Reads bench/swarm's rows (run.sh's columns) under the last header containing `after` (default
"cpu-split"), up to the next header: a header is a comment line without tabs, as the one naming
this script above the rows its runs appended (a commented-out row keeps its tabs). Of those it
takes the rows with N = 1 at link speed C, modes swarm and aria2, by image size (bytes). Prints per
mode and size the rows' node CPU (CPU-s: mean, min-max) and the agent's mean over aria2c's; then,
between each two consecutive sizes, the CPU per GB received (the mean's rise over the bytes' rise,
CPU-s per 1e9 bytes: the data plane, without what a process spends once) and, from the two
smallest sizes, what each mode spends whatever the size (the line through their means at 0 bytes,
CPU-s: for the agent, Node's start, loading the bundle, compiling). Needs rows at two sizes or more
for both modes. Nothing here is configured: every figure comes from the rows.
"""
import sys

MODES = ('swarm', 'aria2')


def rows(path, c, after):
    lines = open(path).read().splitlines()
    # a header is a comment without tabs (a commented-out row keeps its tabs)
    header = [i for i, l in enumerate(lines) if l.startswith('#') and '\t' not in l]
    start = max((i for i in header if after in lines[i]), default=-1) + 1
    end = min((i for i in header if i >= start), default=len(lines))
    for line in lines[start:end]:
        if not line.strip() or line.startswith('#'):
            continue
        f = line.split('\t')
        if len(f) < 9 or f[0] not in MODES or f[1] != str(c) or f[2] != '1' or f[8] in ('-', '0'):
            continue
        yield f[0], int(f[3]), int(f[8]) / 1000


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path, c = sys.argv[1], int(sys.argv[2])
    after = sys.argv[3] if len(sys.argv) > 3 else 'cpu-split'
    cpu = {m: {} for m in MODES}
    for mode, size, s in rows(path, c, after):
        cpu[mode].setdefault(size, []).append(s)
    sizes = sorted(set(cpu['swarm']) & set(cpu['aria2']))
    if len(sizes) < 2:
        raise SystemExit(f'C = {c}: rows for both modes at {len(sizes)} sizes under the header with "{after}": need two or more')
    mean = {m: {x: sum(cpu[m][x]) / len(cpu[m][x]) for x in sizes} for m in MODES}
    print('size MB\t' + '\t'.join(f'{m} CPU-s (rows)' for m in MODES) + '\tswarm/aria2')
    for x in sizes:
        cells = [f'{mean[m][x]:.2f} ({min(cpu[m][x]):.2f}-{max(cpu[m][x]):.2f}, {len(cpu[m][x])})' for m in MODES]
        print(f'{x / 1e6:.1f}\t' + '\t'.join(cells) + f'\t{mean["swarm"][x] / mean["aria2"][x]:.2f}')
    print('between MB\t' + '\t'.join(f'{m} CPU-s per GB' for m in MODES) + '\tswarm/aria2')
    slope = {}
    for a, b in zip(sizes, sizes[1:]):
        slope[a] = {m: (mean[m][b] - mean[m][a]) / ((b - a) / 1e9) for m in MODES}
        print(f'{a / 1e6:.1f}-{b / 1e6:.1f}\t' + '\t'.join(f'{slope[a][m]:.2f}' for m in MODES) + f'\t{slope[a]["swarm"] / slope[a]["aria2"]:.2f}')
    x0 = sizes[0]
    once = {m: mean[m][x0] - slope[x0][m] * x0 / 1e9 for m in MODES}
    print('once, CPU-s\t' + '\t'.join(f'{once[m]:.2f}' for m in MODES))


main()
