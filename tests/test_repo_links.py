"""A fork: after changing `git_url` and `branch` in settings.ini, `python tools/repo_links.py` re-points everything
and leaves a tree on which CI's checks (.ci/run: nbdev_export and nbdev_clean leave no diff, repo_links --check)
pass. Done on a copy of the project, in a git repository of its own."""
import os, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(shutil.which('nbdev_export') is None, reason='needs the dev extra (nbdev)')
GIT = {**os.environ, 'GIT_AUTHOR_NAME': 't', 'GIT_AUTHOR_EMAIL': 't@t', 'GIT_COMMITTER_NAME': 't', 'GIT_COMMITTER_EMAIL': 't@t'}
FORK, BRANCH = 'https://github.com/a-student/exp-fork', 'dev'

def sh(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, shell=True, capture_output=True, text=True, env=GIT, timeout=600)
    assert r.returncode == 0, f'{cmd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r.stdout

def ci_checks(d):
    "What .ci/run checks before the tests: the generated files are what the tools make of the sources"
    sh('nbdev_export && nbdev_clean && python tools/repo_links.py --check && python tools/make_readme.py --check', d)
    return sh('git status --porcelain --untracked-files=all', d)

@pytest.fixture
def project(tmp_path):
    "A copy of the project as a clean clone has it, committed after CI's own export (so only the fork's changes show)"
    files = sh('git ls-files -z --cached --others --exclude-standard', ROOT).split('\0')
    for f in filter(None, files):
        if (ROOT/f).is_file():
            (tmp_path/f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT/f, tmp_path/f)
    sh('git init -q && git add -A && git commit -qm copy', tmp_path)
    sh('nbdev_export && nbdev_clean && python tools/repo_links.py && git add -A && git commit -qm base --allow-empty', tmp_path)
    return tmp_path

def test_fork_passes_ci_checks(project):
    ini = project/'settings.ini'
    text = re.sub(r'^git_url = .*$', f'git_url = {FORK}', ini.read_text(), flags=re.M)
    ini.write_text(re.sub(r'^branch = .*$', f'branch = {BRANCH}', text, flags=re.M))
    r = subprocess.run([sys.executable, 'tools/repo_links.py', '--check'], cwd=project, capture_output=True, text=True)
    assert r.returncode != 0                                     # before the tool: CI would fail, and says why
    sh(f'{sys.executable} tools/repo_links.py', project)
    sh('git add -A && git commit -qm fork', project)
    assert ci_checks(project) == '', 'the tool left files that CI would regenerate'
    old = sh('git grep -l "exp-course" -- . ":!tests" || true', project).split()
    assert old == [], f'still naming the old repository: {old}'
    contributing, readme = (project/'CONTRIBUTING.md').read_text(), (project/'README.md').read_text()
    for t in (contributing, readme): assert f'git clone {FORK} && cd exp-fork' in t
    assert f'colab.research.google.com/github/a-student/exp-fork/blob/{BRANCH}/nbs/06_cuda.ipynb' in readme
    settings = ini.read_text()
    for line in ['user = a-student', 'repo = exp-fork', 'doc_host = https://a-student.github.io', 'doc_baseurl = /exp-fork']:
        assert re.search(rf'^{re.escape(line)}$', settings, re.M), line
    idx = (project/'exp'/'_modidx.py').read_text()
    assert f"'git_url': '{FORK}'" in idx and f"'branch': '{BRANCH}'" in idx
