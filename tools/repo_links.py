#!/usr/bin/env python
"""Point every notebook and the README at the repository named in settings.ini, and keep them Colab-ready.

    python tools/repo_links.py          # rewrite nbs/*.ipynb (and so README.md) from settings.ini
    python tools/repo_links.py --check  # exit 1 if anything is out of date (CI runs this)

settings.ini's `git_url` and `branch` are the one place that names the repository. From them this writes:
- each notebook's "Open In Colab" badge, and the README's (nbs/index.ipynb);
- each notebook's Colab install cell (`pip install "<dist_name> @ git+<git_url>@<branch>"`);
- the README's `git clone` line;
- the notebook metadata that makes Colab open a GPU runtime (settings.ini keeps it through nbdev_clean);
- the last cell of each notebook, which exports it with nbdev in a clone, and says so elsewhere (Colab).
Forked or mirrored the project? Change `git_url` (and `branch`) in settings.ini and run this tool.
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
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '{req}'], check=True)'''

def settings():
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8'); cfg = cfg['DEFAULT']
    url = cfg['git_url'].rstrip('/').removesuffix('.git')
    m = re.fullmatch(r'https://github\.com/([\w.-]+)/([\w.-]+)', url)
    if not m: sys.exit(f"settings.ini: git_url must be https://github.com/OWNER/REPO (Colab opens GitHub notebooks), not {url!r}")
    return dict(url=url, slug=f'{m[1]}/{m[2]}', branch=cfg['branch'], dist=cfg.get('dist_name', cfg['lib_name']))

def src(c): return ''.join(c['source'])
def set_src(c, s):
    lines = s.split('\n'); c['source'] = [l+'\n' for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])

def fix_text(s, st):
    "`s` with its Colab badges and clone lines pointing at the configured repository"
    s = re.sub(r'https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+?/nbs/',
               f"https://colab.research.google.com/github/{st['slug']}/blob/{st['branch']}/nbs/", s)
    return re.sub(r'git clone https://github\.com/[\w.-]+/[\w.-]+?(\.git)?(?=[\s`])', f"git clone {st['url']}", s)

def fix_notebook(nb, name, st):
    cells = nb['cells']
    for c in cells:
        if c['cell_type'] == 'markdown': set_src(c, fix_text(src(c), st))
        elif "'google.colab' in sys.modules" in src(c) and 'pip' in src(c):
            set_src(c, INSTALL_CELL.format(req=f"{st['dist']} @ git+{st['url']}@{st['branch']}"))
    if name != 'index':
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
    if '--check' in sys.argv:
        if stale: sys.exit(f"not pointing at {st['url']} ({st['branch']}): {stale}; run python tools/repo_links.py")
        print(f"all notebooks point at {st['url']} ({st['branch']})")
    else:
        print(f"rewrote {len(stale)} notebooks for {st['url']} ({st['branch']})")
        subprocess.run([sys.executable, str(ROOT/'tools'/'make_readme.py')], check=True)

if __name__ == '__main__': main()
