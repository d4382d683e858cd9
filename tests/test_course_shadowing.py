"""The course's own notebooks sit in `nbs/dl2/` next to the course's `exp/` package, and a notebook's folder comes
first on `sys.path`: there `from exp.nb_05b import *` loads the course's module, not ours. The README's fix is to
rename that folder; this reproduces both, in fresh interpreters started in such a folder."""
import subprocess, sys
from pathlib import Path
import exp

OURS = Path(exp.__file__).resolve().parent
PROBE = "import exp.nb_05b as m, pathlib; print(pathlib.Path(m.__file__).resolve().parent)"

def course_folder(tmp_path):
    "A folder laid out like the course's nbs/dl2: a notebook's neighbour `exp/` package with the course's module names"
    pkg = tmp_path/'exp'; pkg.mkdir()
    (pkg/'__init__.py').write_text('')
    for n in ('nb_00', 'nb_05', 'nb_05b'): (pkg/f'{n}.py').write_text('COURSE_2019 = True\n')
    return tmp_path

def imported_from(cwd):
    "Where `exp.nb_05b` comes from for a notebook (or `python -c`) started in `cwd`: its folder is first on sys.path"
    r = subprocess.run([sys.executable, '-c', PROBE], cwd=cwd, capture_output=True, text=True, check=True)
    return Path(r.stdout.strip())

def test_course_folder_shadows_exp(tmp_path):
    d = course_folder(tmp_path)
    assert imported_from(d) == d/'exp'          # the course's module wins: the problem the README warns about

def test_renaming_the_course_folder_fixes_it(tmp_path):
    d = course_folder(tmp_path)
    (d/'exp').rename(d/'exp_course2019')        # the README's fix
    assert imported_from(d) == OURS
    r = subprocess.run([sys.executable, '-c', 'from exp.nb_05b import *; print(EarlyStoppingCallback.__module__)'],
                       cwd=d, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == 'exp.nb_05b'
