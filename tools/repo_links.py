#!/usr/bin/env python
"""Point every notebook and the README at the repository named in settings.ini, and keep them Colab-ready.

    python tools/repo_links.py          # rewrite nbs/*.ipynb (and so README.md) from settings.ini
    python tools/repo_links.py --check  # exit 1 if anything is out of date (CI runs this)

settings.ini's `git_url` and `branch` are the one place that names the repository. From them this writes:
- each notebook's "Open In Colab" badge, and the README's (nbs/index.ipynb);
- each notebook's Colab install cell (`pip install "<dist_name> @ git+<git_url>@<branch>"`);
- the README's `git clone` line;
- the notebook metadata that makes Colab open a GPU runtime (settings.ini keeps it through nbdev_clean);
- the last cell of each notebook, which exports it with nbdev in a clone, and says so elsewhere (Colab);
- CONTRIBUTING.md's clone line, and settings.ini's other names for the repository (`user`, `repo`, `doc_host`,
  `doc_baseurl`: nbdev's docs and its index of symbols use them);
- exp/_modidx.py, nbdev's index of symbols, which records the repository: by running `nbdev_export`.
Forked or mirrored the project? Change `git_url` (and `branch`) in settings.ini and run this tool: it leaves a tree
that CI's checks pass on (tests/test_repo_links.py does it on a copy). It needs nbdev (the dev extra).
"""
import json, re, subprocess, sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_META = {'accelerator': 'GPU', 'colab': {'gpuType': 'T4', 'provenance': []}}
EXPORT_CELL = '''#| hide
# Write this notebook's exported cells to exp/: only in a clone of the project with its dev tools (not on Colab)
from pathlib import Path
import importlib.util
if not any((p/'settings.ini').exists() for p in [Path.cwd(), *Path.cwd().parents]):
    print('Not exported: run this notebook in a clone of the project to write its module')
elif importlib.util.find_spec('nbdev') is None: print('Not exported: nbdev is not installed (pip install -e ".[dev]")')
else: import nbdev; nbdev.nbdev_export()'''
INSTALL_CELL = '''# On Colab only: install this package (nothing happens anywhere else). Data downloads on first use.
import sys, subprocess
if 'google.colab' in sys.modules:
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q',
                    '{req}'], check=True)'''

def settings():
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8'); cfg = cfg['DEFAULT']
    url = cfg['git_url'].rstrip('/').removesuffix('.git')
    m = re.fullmatch(r'https://github\.com/([\w.-]+)/([\w.-]+)', url)
    if not m: sys.exit(f"settings.ini: git_url must be https://github.com/OWNER/REPO (Colab opens GitHub notebooks), not {url!r}")
    return dict(url=url, slug=f'{m[1]}/{m[2]}', owner=m[1], repo=m[2], branch=cfg['branch'],
                dist=cfg.get('dist_name', cfg['lib_name']))

def settings_names(st):
    "settings.ini's other names for the repository, as git_url gives them"
    return {'user': st['owner'], 'repo': st['repo'], 'doc_host': f"https://{st['owner']}.github.io",
            'doc_baseurl': f"/{st['repo']}"}

def fix_settings(text, st):
    "settings.ini with `user`, `repo`, `doc_host` and `doc_baseurl` following `git_url` (comments kept)"
    for k, v in settings_names(st).items():
        text = re.sub(rf'^{k}\s*=.*$', f'{k} = {v}', text, flags=re.M)
    return text

def modidx_settings():
    "What exp/_modidx.py (written by nbdev_export) records of the repository"
    ns = {}
    exec((ROOT/'exp'/'_modidx.py').read_text(encoding='utf-8'), ns)
    return ns['d']['settings']

def src(c): return ''.join(c['source'])
def set_src(c, s):
    lines = s.split('\n'); c['source'] = [l+'\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])

def fix_text(s, st):
    "`s` with its Colab badges and clone lines pointing at the configured repository"
    s = re.sub(r'https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?/nbs/',
               f"https://colab.research.google.com/github/{st['slug']}/blob/{st['branch']}/nbs/", s)
    s = re.sub(r'git clone https://github\.com/[\w.-]+/[\w.-]+?(\.git)?(?=[\s`])', f"git clone {st['url']}", s)
    return re.sub(rf"(git clone {re.escape(st['url'])} && cd )[\w.-]+", rf"\g<1>{st['repo']}", s)

def fix_notebook(nb, name, st):
    cells = nb['cells']
    for c in cells:
        if c['cell_type'] == 'markdown': set_src(c, fix_text(src(c), st))
        elif "'google.colab' in sys.modules" in src(c) and 'pip' in src(c):
            set_src(c, INSTALL_CELL.format(req=f"{st['dist']} @ git+{st['url']}@{st['branch']}"))
    if name[:1].isdigit():   # the lessons and their companions (not the index, nor nbs/package.ipynb)
        last = cells[-1]
        if last['cell_type'] == 'code' and 'nbdev_export' in src(last): set_src(last, EXPORT_CELL)
        nb['metadata'].update(COLAB_META)
    return nb

def dump(nb): return json.dumps(nb, indent=1, ensure_ascii=False) + '\n'

def main():
    st, stale = settings(), []
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        old = p.read_text(encoding='utf-8')
        new = dump(fix_notebook(json.loads(old), p.stem, st))
        if json.loads(new) != json.loads(old):
            stale.append(p.name)
            if '--check' not in sys.argv: p.write_text(new, encoding='utf-8')
    for p, fix in [(ROOT/'CONTRIBUTING.md', fix_text), (ROOT/'settings.ini', fix_settings)]:
        old = p.read_text(encoding='utf-8'); new = fix(old, st)
        if new != old:
            stale.append(p.name)
            if '--check' not in sys.argv: p.write_text(new, encoding='utf-8')
    if '--check' in sys.argv:
        idx = modidx_settings()
        if idx.get('git_url') != st['url'] or idx.get('branch') != st['branch'] or \
           idx.get('doc_host') != settings_names(st)['doc_host']: stale.append('exp/_modidx.py')
        if stale: sys.exit(f"not pointing at {st['url']} ({st['branch']}): {stale}; run python tools/repo_links.py")
        print(f"all notebooks, CONTRIBUTING.md, settings.ini and exp/_modidx.py point at {st['url']} ({st['branch']})")
    else:
        print(f"rewrote {len(stale)} files for {st['url']} ({st['branch']}): {stale}")
        subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py')], check=True)
        # nbdev's index of symbols records the repository: write it again (and every module, unchanged otherwise)
        code = 'from nbdev.doclinks import nbdev_export; nbdev_export.__wrapped__()'
        if subprocess.run([sys.executable, '-c', code], cwd=ROOT).returncode:
            sys.exit('nbdev_export failed: install the dev extra (pip install -e ".[dev]"), then run nbdev_export')
        print('ran nbdev_export: exp/_modidx.py follows settings.ini')

if __name__ == '__main__': main()
