"""The package as pip sees it: `python -m build` makes an sdist and a wheel that install and import in a fresh venv,
and the runtime requirements change nothing a student already has (their torch, fastai next to it).

The fastai check downloads fastai and its dependencies (about 150 MB): it runs only with EXP_TEST_FASTAI=1."""
import configparser, os, shlex, subprocess, sys, sysconfig, tarfile, zipfile
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini'); cfg = cfg['DEFAULT']
REQS = shlex.split(cfg['requirements'])
DIST = cfg['dist_name'].replace('-', '_')

def sh(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f'{args}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r.stdout

def project_copy(dest):
    "The files a clean clone has (committed or new, not ignored), as `python -m build` would see them there"
    files = sh('git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard', cwd=ROOT).split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file():
            (dest/f).parent.mkdir(parents=True, exist_ok=True)
            (dest/f).write_bytes((ROOT/f).read_bytes())
    return dest

@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    "An sdist, and the wheel that `python -m build` makes *from that sdist* (as pip does when it installs one)"
    pytest.importorskip('build', reason='needs the dev extra (build)')
    src = project_copy(tmp_path_factory.mktemp('src'))
    out = tmp_path_factory.mktemp('dist')
    sh(sys.executable, '-m', 'build', '--outdir', out, src)
    sdist, = out.glob(f'{DIST}-*.tar.gz'); wheel, = out.glob(f'{DIST}-*.whl')
    return sdist, wheel

def test_sdist_has_what_setup_py_reads(dists):
    names = {n.split('/', 1)[1] for n in tarfile.open(dists[0]).getnames() if '/' in n}
    assert {'settings.ini', 'README.md', 'LICENSE', 'setup.py', 'pyproject.toml', 'exp/__init__.py'} <= names

def test_wheel_has_every_module_and_the_requirements(dists):
    z = zipfile.ZipFile(dists[1])
    mods = {n for n in z.namelist() if n.startswith('exp/')}
    assert mods == {f'exp/{p.name}' for p in (ROOT/'exp').glob('*.py')}
    meta = z.read(next(n for n in z.namelist() if n.endswith('/METADATA'))).decode()
    needs = [l.split(': ', 1)[1] for l in meta.splitlines() if l.startswith('Requires-Dist: ') and 'extra ==' not in l]
    assert sorted(n.replace(' ', '') for n in needs) == sorted(REQS)

def test_runtime_requirements_keep_what_is_installed():
    "Floors only (no `<`, `==`, `~=`), and nothing that pins torch (torchvision does): pip keeps a student's builds"
    assert all(not any(op in r for op in ('<', '==', '~=', '!=')) for r in REQS), REQS
    assert not [r for r in REQS if r.startswith('torchvision')]
    assert any(r.startswith('torch>=') for r in REQS) and any(r.startswith('fastcore>=') for r in REQS)

def fresh_venv(path, sees_ours=True):
    "A new venv; with `sees_ours`, it also sees this interpreter's packages (torch...) through a .pth, to stay offline"
    sh(sys.executable, '-m', 'venv', path)
    py = path/'bin'/'python'
    if sees_ours:
        site = sh(py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])').strip()
        Path(site, '_test_parent.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    return py

@pytest.mark.parametrize('which', ['sdist', 'wheel'])
def test_installs_and_imports_in_a_fresh_venv(dists, tmp_path, which):
    py = fresh_venv(tmp_path/'venv')
    sh(py, '-m', 'pip', 'install', '-q', '--no-deps', dists[0] if which == 'sdist' else dists[1])
    out = sh(py, '-c', 'import exp, exp.nb_10, pathlib; print(exp.__version__, pathlib.Path(exp.__file__).resolve())',
             cwd=tmp_path)
    version, where = out.split()
    assert version == cfg['version'] and Path(where).is_relative_to((tmp_path/'venv').resolve()), out

@pytest.mark.skipif(os.environ.get('EXP_TEST_FASTAI') != '1', reason='downloads fastai (~150 MB): set EXP_TEST_FASTAI=1')
def test_next_to_fastai_changes_one_line(dists, tmp_path):
    "In a venv with torch and fastai's latest release, installing exp adds exp and changes nothing else"
    py = fresh_venv(tmp_path/'venv', sees_ours=False)
    torch = sh(sys.executable, '-c', 'import torch; print(torch.__version__.split("+")[0])').strip()
    sh(py, '-m', 'pip', 'install', '-q', f'torch=={torch}', 'fastai')
    before = set(sh(py, '-m', 'pip', 'freeze').splitlines())
    sh(py, '-m', 'pip', 'install', '-q', dists[1])
    after = set(sh(py, '-m', 'pip', 'freeze').splitlines())
    assert len(after - before) == 1 and not before - after, (sorted(before - after), sorted(after - before))
    assert next(iter(after - before)).startswith(cfg['dist_name']), after - before
    # (not fastai.vision: on a machine whose torch is a local CPU build, PyPI's torchvision does not load next to it)
    sh(py, '-c', 'import fastai, fastai.callback.core, exp.nb_10', cwd=tmp_path)

def test_ci_tests_the_floors_and_the_dists():
    "CI's low-Python venv installs torch's and fastcore's floors from settings.ini, and the sdist and wheel it built"
    run = (ROOT/'.ci'/'run').read_text()
    assert 'TORCH_MIN=$(floor torch)' in run and 'FASTCORE_MIN=$(floor fastcore)' in run
    assert 'pipi "torch==$TORCH_MIN.*" "fastcore==$FASTCORE_MIN"' in run
    assert 'python -m build --outdir dist .' in run and 'dist/exp_foundations-*.tar.gz dist/exp_foundations-*.whl' in run
