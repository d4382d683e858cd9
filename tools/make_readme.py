#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb, the project's landing page.

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 if README.md is not what index.ipynb says

`nbs/index.ipynb` is the source (settings.ini: `readme_nb = index.ipynb`). It holds markdown
only, so the README is its markdown cells joined by blank lines: the same text `nbdev_readme`
renders with Quarto, without needing Quarto (which is not installed everywhere).
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def readme_text(index=ROOT/'nbs'/'index.ipynb'):
    cells = json.loads(Path(index).read_text())['cells']
    assert all(c['cell_type'] == 'markdown' for c in cells), f'{index} must hold markdown cells only'
    return '\n\n'.join(''.join(c['source']).strip() for c in cells) + '\n'

def main():
    text, readme = readme_text(), ROOT/'README.md'
    if '--check' in sys.argv[1:]:
        if readme.read_text() != text: sys.exit('README.md differs from nbs/index.ipynb: run python tools/make_readme.py')
        print('README.md matches nbs/index.ipynb')
    else: readme.write_text(text); print(f'wrote {readme}')

if __name__ == '__main__': main()
