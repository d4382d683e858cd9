"CI's test step fails when a notebook or a test fails, runs pytest even after a failed notebook, and says what ran"
import json, os, shutil, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(shutil.which('nbdev_test') is None, reason='needs the dev extra (nbdev)')

@pytest.fixture
def project(tmp_path):
    "A copy of the project as a clean clone has it (with what is not committed yet, but not ignored)"
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT, capture_output=True, check=True).stdout.decode().split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file():
            (tmp_path/f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT/f, tmp_path/f)
    (tmp_path/'tests'/'test_small.py').write_text('def test_small(): assert 1 + 1 == 2\n')
    return tmp_path

def break_notebook(path):
    nb = json.loads(path.read_text())
    nb['cells'].insert(-1, {'cell_type': 'code', 'execution_count': None, 'id': 'broken', 'metadata': {}, 'outputs': [],
                            'source': ["assert 1 == 2, 'broken on purpose'"]})
    path.write_text(json.dumps(nb, indent=1))

def run_step(project, tests='tests/test_small.py'):
    env = {**os.environ, 'CI_NOTEBOOKS': 'nbs/00_data.ipynb', 'CI_PYTEST': tests}
    r = subprocess.run(['bash', '.ci/test-step'], cwd=project, env=env, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout + r.stderr

def test_passes_when_all_pass(project):
    rc, out = run_step(project)
    assert rc == 0, out[-3000:]
    assert 'notebooks: 1 passed under nbdev_test' in out and 'pytest: 1 passed' in out, out[-2000:]

def test_fails_on_a_broken_notebook_and_still_runs_pytest(project):
    break_notebook(project/'nbs'/'00_data.ipynb')
    rc, out = run_step(project)
    assert rc != 0, out[-3000:]
    assert 'broken on purpose' in out
    assert 'notebooks: FAILED' in out and '00_data.ipynb' in out.split('summary of the test step')[1]
    assert 'pytest: 1 passed' in out                    # the tests ran after the failed notebook

def test_fails_on_a_failing_test(project):
    (project/'tests'/'test_bad.py').write_text('def test_bad(): assert False\n')
    rc, out = run_step(project, 'tests/test_small.py tests/test_bad.py')
    assert rc != 0 and 'notebooks: 1 passed' in out and 'pytest: FAILED' in out and '1 failed' in out, out[-3000:]

def test_ci_run_calls_the_step_and_chains_no_test():
    "Under `set -e`, the left side of `a && b` can fail without stopping the script"
    run = (ROOT/'.ci'/'run').read_text()
    assert 'bash .ci/test-step' in run
    code = [l.split('#')[0] for l in run.splitlines()]
    assert not [l for l in code if ('nbdev_test' in l or 'pytest' in l) and '&&' in l]
    assert 'set -euo pipefail' in run
