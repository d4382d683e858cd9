"Where data goes when the package runs outside a clone (pip install, Colab): ~/.exp/data, or $EXP_DATA"
import os, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

def _data_dir_in(tmp_path, **env_extra):
    shutil.copytree(ROOT/'exp', tmp_path/'pkg'/'exp')            # the package alone, as site-packages holds it
    env = {k:v for k,v in os.environ.items() if k != 'EXP_DATA'} | {'HOME': str(tmp_path/'home')} | env_extra
    out = subprocess.run([sys.executable, '-c', 'import exp.nb_00 as m; print(m.data_dir())'],
                         cwd=tmp_path/'pkg', env=env, capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())

def test_outside_a_clone_uses_home(tmp_path):
    assert _data_dir_in(tmp_path) == tmp_path/'home'/'.exp'/'data'

def test_exp_data_wins(tmp_path):
    assert _data_dir_in(tmp_path, EXP_DATA=str(tmp_path/'shared')) == tmp_path/'shared'

def test_in_this_clone_uses_data_folder():
    env = {k:v for k,v in os.environ.items() if k != 'EXP_DATA'}
    out = subprocess.run([sys.executable, '-c', 'import exp.nb_00 as m; print(m.data_dir())'],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert Path(out.stdout.strip()) == ROOT/'data'
