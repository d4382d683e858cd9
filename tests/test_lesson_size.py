"""The lessons read in one sitting: their size against the course's notebook, no long code cells in the
lesson path, no project history, and no machine paths in saved outputs. Prints the table it checks."""
import json, re
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parent.parent/'nbs'
# lesson: (the course's notebook's markdown words, our limit on markdown words)
LESSONS = {'06_cuda': (730, 1460), '07_batchnorm': (652, 3000), '07a_lsuv': (356, 1000), '08_data_block': (1169, 2338)}
ALL = sorted(p.stem for p in NBS.glob('*.ipynb'))
HISTORY = re.compile(r"\bissue \d+|\bcommit [0-9a-f]{7}|earlier version|earlier README|README's former|"
                     r"[Bb]efore this notebook|previous version|used to be|we used to", re.I)
MACHINE = re.compile(r"/work/|/root/|/home/\w+/|/tmp/\w|C:\\\\Users")

def cells(stem): return json.loads((NBS/f'{stem}.ipynb').read_text())['cells']
def text(c): return ''.join(c['source'])
def prose(s): return re.sub(r'\]\([^)\s]+\)', ']', s)   # a link's address is no word a student reads
def words(stem): return sum(len(re.findall(r"[\w'’-]+", prose(text(c)))) for c in cells(stem) if c['cell_type'] == 'markdown')
def exported_class(s): return s.startswith('#| export') and re.search(r'^class ', s, re.M)

def code_lines(stem):
    return sum(len(text(c).splitlines()) for c in cells(stem) if c['cell_type'] == 'code')

def test_print_table():
    print(f"\n{'notebook':16} {'md words':>9} {'limit':>6} {'course':>7} {'code lines':>10}")
    for stem,(course,limit) in LESSONS.items(): print(f'{stem:16} {words(stem):9} {limit:6} {course:7} {code_lines(stem):10}')

@pytest.mark.parametrize('stem', LESSONS)
def test_words(stem):
    assert words(stem) <= LESSONS[stem][1], f"{stem}: {words(stem)} markdown words, aim at {LESSONS[stem][1]}"

@pytest.mark.parametrize('stem', LESSONS)
def test_short_code_cells(stem):
    long = [(i, len(text(c).splitlines())) for i,c in enumerate(cells(stem))
            if c['cell_type'] == 'code' and len(text(c).splitlines()) > 25 and not exported_class(text(c))]
    assert not long, f"{stem}: code cells over 25 lines (cell, lines): {long}; move the machinery to a companion"

@pytest.mark.parametrize('stem', ALL)
def test_no_history(stem):
    found = [(i, m.group(0)) for i,c in enumerate(cells(stem)) for m in HISTORY.finditer(text(c))]
    assert not found, f"{stem}: project history in the text: {found}"

def _outputs(c):
    for o in c.get('outputs', []):
        yield ''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', '')) + ''.join(o.get('traceback', []))

@pytest.mark.parametrize('stem', ALL)
def test_clean_outputs(stem):
    bad = [(i, m.group(0)) for i,c in enumerate(cells(stem)) for s in _outputs(c) for m in MACHINE.finditer(s)]
    tb = [i for i,c in enumerate(cells(stem)) for o in c.get('outputs', []) if o.get('output_type') == 'error']
    err = [i for i,c in enumerate(cells(stem)) for o in c.get('outputs', []) if o.get('name') == 'stderr']
    assert not bad and not tb and not err, f"{stem}: machine paths {bad}, tracebacks in cells {tb} or warnings (stderr) in cells {err}"
