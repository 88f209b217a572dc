#!/usr/bin/env python3
"""Markdown table of a pipeline run directory's evaluated arms, repetition by repetition, with paired
differences (95% t-intervals) against random pruning at the same ratio and against the full pool, over
the repetitions that have both runs: the table of docs/BENCHMARKS.md's xp500 section, from eval_*.json
alone, so it can be drawn while repetitions are still running.
Usage: python3 experiments/xptable.py runs/paper-xp500"""
import glob, json, math, os, re, sys

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def load(root):
    runs = {}  # name -> {rep: (clean, worst)}
    for f in glob.glob(os.path.join(root, 'seed*', 'eval_*.json')):
        rep = int(re.search(r'seed(\d+)', f).group(1))
        name = os.path.basename(f)[len('eval_'):-len('.json')]
        e = json.load(open(f))
        runs.setdefault(name, {})[rep] = (100 * e['clean'], 100 * e['worst'])
    return runs


def interval(d):
    n = len(d)
    m = sum(d) / n
    if n < 2:
        return f'{m:+.2f} (n=1)'
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    h = T975[n - 1] * sd / math.sqrt(n)
    return f'{m:+.2f} [{m - h:+.2f}, {m + h:+.2f}] (n={n})'


def paired(runs, a, b, k):
    reps = sorted(set(runs[a]) & set(runs.get(b, {})))
    return [runs[a][r][k] - runs[b][r][k] for r in reps]


def order(name):
    m = re.match(r'(.*)_p([0-9.]+)$', name)
    if not m:
        return (0, name != 'full', name)
    arm, p = m.groups()
    return (float(p), arm == 'random' and -1 or 1, arm)


def main(root):
    runs = load(root)
    reps = sorted({r for v in runs.values() for r in v})
    print('| arm | ' + ' | '.join(f'rep {r}: clean / worst' for r in reps) +
          ' | mean worst | worst − random [95% t] | clean − random | worst − full [95% t] |')
    print('|---|' + '---|' * (len(reps) + 4))
    for name in sorted(runs, key=order):
        cells = [(f'{runs[name][r][0]:.1f} / {runs[name][r][1]:.1f}' if r in runs[name] else '') for r in reps]
        worst = [v[1] for v in runs[name].values()]
        m = re.match(r'(.*)_p([0-9.]+)$', name)
        vs_random = clean_random = vs_full = ''
        if m and m.group(1) != 'random':
            rnd = 'random_p' + m.group(2)
            d = paired(runs, name, rnd, 1)
            if d:
                vs_random = interval(d)
                c = paired(runs, name, rnd, 0)
                clean_random = f'{sum(c) / len(c):+.2f}'
        if name != 'full' and 'full' in runs:
            d = paired(runs, name, 'full', 1)
            if d:
                vs_full = interval(d)
        print(f'| {name} | ' + ' | '.join(cells) + f' | {sum(worst) / len(worst):.2f} | {vs_random} | {clean_random} | {vs_full} |')


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'runs/paper-xp500')
