#!/usr/bin/env python
"""Execute the lesson notebooks top to bottom and save them with their outputs.

    python tools/run_notebooks.py                 # every notebook in nbs/, in order
    python tools/run_notebooks.py nbs/07*.ipynb   # some of them

This is what a student sees on GitHub: every plot and number of the default run, as Run All gives it.
The long experiments ask `slow_run(...)` (nb_00) first, so unless EXP_SLOW=1 is set they print that
they were skipped, and their markdown quotes what they print. Cells flagged `#| eval: false` (or the
older `#| slow`) are not executed and keep no output. Each notebook runs in a fresh Jupyter kernel from `nbs/`, so plots
and progress bars are saved as a notebook shows them (a progress bar as one finished bar). The
saved file is then cleaned with `nbdev_clean` (metadata stripped, outputs kept). A notebook that
fails is not written, and the script exits non-zero.
"""
import argparse, os, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r'^\s*#\|\s*(slow\b|eval:\s*false)', re.M)

def skipped(cell): return cell.cell_type == 'code' and bool(SKIP.search(cell.source))

class DefaultRunClient(NotebookClient):
    "Runs every code cell but the `#| slow` and `#| eval: false` ones, which keep no output"
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if skipped(cell):
            cell.outputs, cell.execution_count = [], None
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

def kernel_env():
    "The kernel shows plots inline (no Agg backend) and finds the data where this shell points (EXP_DATA)"
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}
    env['IN_TEST'] = '1'   # as under nbdev_test: a notebook's closing `nbdev_export()` cell does nothing
    env['MATPLOTLIBRC'] = str(ROOT/'tools'/'matplotlibrc')   # saved figures: 110 dpi, readable fonts
    return env

def run_notebook(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = DefaultRunClient(nb, timeout=timeout, kernel_name='python3', coalesce_streams=True,   # one block of text per cell
                              resources={'metadata': {'path': str(path.parent)}})
    env = kernel_env()
    old = os.environ.copy()
    os.environ.clear(); os.environ.update(env)   # the kernel inherits this process's environment
    try: client.execute()
    finally: os.environ.clear(); os.environ.update(old)
    return nb

def clean(path):
    from nbdev.clean import nbdev_clean
    nbdev_clean.__wrapped__(fname=str(path))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='*', help='default: every nbs/*.ipynb, in order')
    p.add_argument('--timeout', type=int, default=1200, help='seconds a single cell may take')
    args = p.parse_args(argv)
    os.chdir(ROOT)
    paths = [Path(o).resolve() for o in args.notebooks] or sorted((ROOT/'nbs').glob('*.ipynb'))
    failed, total = [], time.perf_counter()
    for i, path in enumerate(paths, 1):
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f'[{i}/{len(paths)}] {rel} ...', end=' ', flush=True)
        t = time.perf_counter()
        try: nb = run_notebook(path, args.timeout)
        except CellExecutionError as e:
            print(f'FAILED after {time.perf_counter()-t:.0f} s (not saved)\n{str(e)[-2000:]}', flush=True)
            failed.append(rel); continue
        nbformat.write(nb, path)
        clean(path)
        n = sum(1 for c in nb.cells if skipped(c))
        print(f'{time.perf_counter()-t:.1f} s' + (f' ({n} slow cells not run)' if n else ''), flush=True)
    print(f'{len(paths)-len(failed)}/{len(paths)} notebooks saved executed in {time.perf_counter()-total:.0f} s')
    if failed: sys.exit(f'failed: {", ".join(map(str, failed))}')

if __name__ == '__main__': main()
