"Every lesson notebook opens Colab-ready, and is saved clean"
import configparser, json
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
NBS = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
REPO = cfg['DEFAULT']['git_url'].split('github.com/')[1]

def cells(nb): return json.loads(nb.read_text())['cells']

def test_all_lessons_present():
    assert [p.stem for p in NBS] == ['00_data', '05_foundations', '06_cuda', '07_batchnorm', '07a_lsuv', '08_data_block']

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_badge_and_install_cell(nb):
    cs = cells(nb)
    title = next(c for c in cs if c['cell_type'] == 'markdown')
    assert f'colab.research.google.com/github/{REPO}/blob/main/nbs/{nb.name}' in ''.join(title['source'])
    code = [''.join(c['source']) for c in cs if c['cell_type'] == 'code']
    install = code[1]   # right after `#| default_exp`, before anything is imported from exp
    assert "if 'google.colab' in sys.modules:" in install and f'git+https://github.com/{REPO}' in install
    assert '#| export' in code[2] and (nb.stem == '00_data' or 'from exp.nb_' in code[2])

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_saved_without_outputs(nb):
    for c in cells(nb):
        if c['cell_type'] == 'code': assert c['outputs'] == [] and c['execution_count'] is None
