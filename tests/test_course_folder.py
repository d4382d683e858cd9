"""`import exp` and `import exp.nb_XX` warn, naming the folder, when another folder named `exp` (the course's, whose
export cells write `exp/nb_XX.py` next to its notebooks, without `__init__.py`) can shadow or join this package.
Each case runs in a fresh interpreter, as a notebook's kernel would."""
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
WARNING = 'a folder named exp at'

def course_folder(tmp_path, init=False, modules=('nb_09b', 'nb_12a')):
    "A folder laid out like the course's nbs/dl2 after its export cells ran: `exp/nb_XX.py`, by default no `__init__.py`"
    pkg = tmp_path/'exp'; pkg.mkdir()
    if init: (pkg/'__init__.py').write_text('')
    for n in modules: (pkg/f'{n}.py').write_text('COURSE_2019 = True\n')
    return tmp_path

def run(code, cwd, **env):
    r = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True, env={**env_base(), **env})
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, r.stderr

def env_base():
    import os
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}

def test_course_folder_joining_ours_is_named(tmp_path):
    "The course's export cells recreate exp/ without __init__.py: nb_09b silently comes from there, next to our nb_09"
    d = course_folder(tmp_path)
    out, err = run('import exp.nb_09, exp.nb_09b, pathlib\n'
                   'print(pathlib.Path(exp.nb_09b.__file__).resolve().parent)', d)
    assert Path(out.strip()) == (d/'exp').resolve()          # the problem: the course's module, without a word from Python
    assert f'{WARNING} {(d/"exp").resolve()}' in err and 'mv exp exp_course2019' in err, err
    assert err.count(WARNING) == 1                             # once per process, however many modules are imported

def test_course_package_shadowing_ours_is_named(tmp_path):
    "A course folder with __init__.py shadows the package: our modules that it lacks still warn when they load"
    d = course_folder(tmp_path, init=True)
    out, err = run('from exp.nb_09 import *; import exp; print(exp.__path__)', d)
    assert str((d/'exp').resolve()) in out
    assert f'{WARNING} {(d/"exp").resolve()}' in err, err

def test_import_exp_warns_for_a_folder_later_on_the_path(tmp_path):
    "Our package wins (it comes first), but a course folder on the path is named by a bare `import exp`"
    d = course_folder(tmp_path)
    _, err = run('import exp', ROOT, PYTHONPATH=str(d))
    assert f'{WARNING} {(d/"exp").resolve()}' in err, err

@pytest.mark.parametrize('rename', [False, True])
def test_no_warning_without_a_foreign_folder(tmp_path, rename):
    "No folder, or the README's fix (rename it): the course's notebooks import our modules, quietly"
    d = course_folder(tmp_path)
    if rename: (d/'exp').rename(d/'exp_course2019')
    else: [p.unlink() for p in (d/'exp').glob('*.py')]    # an empty exp/ holds no module
    out, err = run('import exp.nb_09b, pathlib; print(pathlib.Path(exp.nb_09b.__file__).resolve().parent)', d)
    assert Path(out.strip()) == (ROOT/'exp').resolve() and WARNING not in err, err

def test_init_keeps_the_check():
    "nbdev_export rewrites only the version line of exp/__init__.py: the import of the check stays"
    init = (ROOT/'exp'/'__init__.py').read_text()
    assert 'from ._course_folder import _warn_foreign_exp' in init and '__version__' in init
