#!/usr/bin/env python
"""How much the notebooks' numbers move from machine to machine.

    python tools/machine_spread.py run /tmp/spread/native
    ATEN_CPU_CAPABILITY=avx2 python tools/machine_spread.py run /tmp/spread/avx2 nbs/06_cuda.ipynb
    OMP_NUM_THREADS=1 python tools/machine_spread.py run /tmp/spread/1thread
    python tools/machine_spread.py compare nbs /tmp/spread/native /tmp/spread/avx2 /tmp/spread/1thread

Float rounding differs between CPUs (PyTorch picks its kernels by the vector extensions it finds:
`ATEN_CPU_CAPABILITY=default|avx2|avx512` forces a path), thread counts and GPUs, and a training run
amplifies it. `run` executes notebooks as Run All would (`tools/run_notebooks.py`'s client) but keeps
going past a failing cell, and saves the executed copies in a folder of their own, never over `nbs/`.
`compare` reads the numbers each cell printed in several such folders (the committed `nbs/` among them)
and lists the cells whose numbers differ, with their range: what a student on another machine should
expect to see move.
"""
import argparse, json, os, re, sys, time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from run_notebooks import ROOT, DefaultRunClient, kernel_env

NUM = re.compile(r'(?<![\w.])-?\d+\.\d+(?:e[-+]?\d+)?|(?<![\w.])-?\d+e[-+]?\d+', re.I)

def _machine():
    "The CPU and the settings that pick PyTorch's kernels, in one line"
    import platform, torch
    model = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor()) \
        if Path('/proc/cpuinfo').exists() else platform.processor()
    return (f"{model}; torch {torch.__version__}, kernels {torch.backends.cpu.get_cpu_capability()}, "
            f"{torch.get_num_threads()} threads")

def run(out, notebooks, timeout):
    out = Path(out); out.mkdir(parents=True, exist_ok=True)
    paths = [Path(o).resolve() for o in notebooks] or sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
    (out/'machine.txt').write_text(_machine() + '\n')
    print(_machine(), flush=True)
    env, old = kernel_env(), os.environ.copy()
    for path in paths:
        t = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        client = DefaultRunClient(nb, timeout=timeout, kernel_name='python3', allow_errors=True,
                                  resources={'metadata': {'path': str(path.parent)}})
        os.environ.clear(); os.environ.update(env)
        try: client.execute()
        finally: os.environ.clear(); os.environ.update(old)
        nbformat.write(nb, out/path.name)
        errs = [i for i,c in enumerate(nb.cells) if c.cell_type == 'code' and any(o.get('output_type') == 'error' for o in c.outputs)]
        print(f'{path.name}: {time.perf_counter()-t:.0f} s' + (f', errors in cells {errs}' if errs else ''), flush=True)

def _text(cell):
    "What a code cell printed (streams and plain-text results)"
    parts = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': parts.append(''.join(o['text']))
        elif o.get('output_type') == 'error': parts.append(f"ERROR {o['ename']}: {o['evalue']}")
        elif 'text/plain' in o.get('data', {}): parts.append(''.join(o['data']['text/plain']))
    return ''.join(parts)

def _numbers(text): return [float(m) for m in NUM.findall(text)]

def compare(folders, notebooks=None, rel=1e-3):
    "Print, per cell, the numbers that differ between the folders' executed copies"
    folders = [Path(f) for f in folders]
    names = notebooks or sorted(p.name for p in folders[-1].glob('*.ipynb'))
    for name in names:
        nbs = [json.loads((f/name).read_text())['cells'] if (f/name).exists() else None for f in folders]
        if any(n is None for n in nbs): continue
        shown = False
        for i, cs in enumerate(zip(*nbs)):
            if cs[0]['cell_type'] != 'code': continue
            texts = [_text(c) for c in cs]
            nums = [_numbers(t) for t in texts]
            errs = [f.name for f,t in zip(folders, texts) if 'ERROR ' in t]
            moved = []
            if len({len(n) for n in nums}) == 1:
                for vals in zip(*nums):
                    lo, hi = min(vals), max(vals)
                    if hi - lo > rel*max(abs(lo), abs(hi), 1e-12): moved.append(vals)
            elif any(nums): moved.append(('printed different lines',))
            if not (moved or errs): continue
            if not shown: print(f'\n{name}  ({" | ".join(f.name for f in folders)})'); shown = True
            for vals in moved[:12]:
                print(f'  [{i}] ' + ' | '.join(f'{v:.4g}' if isinstance(v, float) else str(v) for v in vals))
            if len(moved) > 12: print(f'  [{i}] ... {len(moved)-12} more numbers moved')
            for f in errs: print(f'  [{i}] fails in {f}: {next(l for l in texts[[x.name for x in folders].index(f)].splitlines() if "ERROR" in l)[:160]}')

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run', help='execute notebooks into a folder, past failing cells')
    r.add_argument('out'); r.add_argument('notebooks', nargs='*'); r.add_argument('--timeout', type=int, default=3600)
    c = sub.add_parser('compare', help="list the numbers that differ between folders of executed notebooks")
    c.add_argument('folders', nargs='+'); c.add_argument('--nb', action='append', help='only these notebook names')
    c.add_argument('--rel', type=float, default=1e-3, help='relative difference that counts as moved')
    a = p.parse_args(argv)
    os.chdir(ROOT)
    if a.cmd == 'run': run(a.out, a.notebooks, a.timeout)
    else: compare(a.folders, a.nb, a.rel)

if __name__ == '__main__': main()
