"Importing a module must not change global torch settings nor touch a GPU (checked in a fresh process)"
import json, subprocess, sys
from pathlib import Path
import pytest

MODULES = sorted(p.stem for p in (Path(__file__).parents[1]/'exp').glob('nb_*.py'))

PROBE = '''
import json, sys, torch
def state():
    s = dict(threads=torch.get_num_threads(), dtype=str(torch.get_default_dtype()),
             cuda_init=torch.cuda.is_initialized(), grad=torch.is_grad_enabled())
    if hasattr(torch, 'get_default_device'): s['device'] = str(torch.get_default_device())
    return s
before = state()
import importlib; importlib.import_module(sys.argv[1])
print(json.dumps([before, state()]))
'''

@pytest.mark.parametrize('mod', MODULES)
def test_import_changes_nothing(mod):
    out = subprocess.run([sys.executable, '-c', PROBE, f'exp.{mod}'], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], check=True).stdout
    before,after = json.loads(out.strip().splitlines()[-1])
    assert before == after
    assert not after['cuda_init']

def test_star_import_chains():
    "`from exp.nb_XX import *` gives the earlier modules' names too, as the course's modules did"
    last = MODULES[-1]
    code = f"from exp.{last} import *; names = dir(); print(all(n in names for n in [\"get_data\", \"torch\", \"test_eq\", \"URLs\", \"DataLoader\"]))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=Path(__file__).parents[1], check=True)
    assert out.stdout.strip() == 'True'
