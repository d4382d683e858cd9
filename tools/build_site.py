#!/usr/bin/env python
"""Build the lesson site: every notebook, with the outputs it is saved with, as static HTML in _site/.

    python tools/build_site.py --open           # build _site/, then open its index in your browser
    python tools/build_site.py --out /tmp/site  # somewhere else

nbconvert's HTML exporter (installed with jupyter) renders each notebook as JupyterLab shows it and executes
nothing: the pages show the saved plots and numbers. The index is the README (nbs/index.ipynb) with a table of
every notebook: its title, its first video link and its Colab badge. Links between notebooks (`06_cuda.ipynb`,
the README's `nbs/06_cuda.ipynb`) point at the rendered pages; links to the repository's other files point at
GitHub. No page loads anything from the network. Where Quarto is installed, `nbdev_docs` builds nbdev's own
site instead (CONTRIBUTING.md); tests/test_site.py opens this one in a headless Chromium.
"""
import argparse, html, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
sys.path.insert(0, str(ROOT/'tools'))
from repo_links import settings   # noqa: E402  (the repository named in settings.ini)

VIDEO = re.compile(r'\[([^\]]*)\]\((https://course19\.fast\.ai/videos/\?lesson=\d+[^)\s]*)\)')
COLAB = 'https://colab.research.google.com/assets/colab-badge.svg'
# the badge, drawn here, so that no page loads an image from the network
BADGE = ('<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">'
         '<rect width="117" height="20" rx="3" fill="#555"/><rect x="44" width="73" height="20" rx="3" fill="#f9ab00"/>'
         '<rect x="44" width="6" height="20" fill="#f9ab00"/><g fill="#fff" font-family="Verdana,sans-serif" '
         'font-size="11"><text x="7" y="14">Open</text><text x="50" y="14" fill="#333">in Colab</text></g></svg>')
LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')

def notebooks():
    "The notebooks in reading order (by name), without the index, with the files nbdev never reads (`_*`)"
    return [p for p in sorted(NBS.glob('*.ipynb')) if p.stem != 'index' and not p.name.startswith('_')]

def nbformat_read(stem):
    import warnings, nbformat
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Cell is missing an id field')
        return nbformat.read(NBS/f'{stem}.ipynb', as_version=4)

def page(stem): return 'index.html' if stem == 'index' else f'{stem}.html'

def fix_link(url, st, from_index):
    "Where a markdown link of a notebook (or of the README, whose links start at the repository's root) goes on the site"
    if re.match(r'[a-z][\w+.-]*:', url) or url.startswith('#'): return url          # http(s), mailto, an anchor
    path, frag = (url.split('#', 1) + [''])[:2]
    target = ((ROOT if from_index else NBS)/path).resolve()
    if target.suffix == '.ipynb' and target.parent == NBS and target.exists():
        return page(target.stem) + (f'#{frag}' if frag else '')
    if target.is_relative_to(NBS/'images'): return 'images/' + target.relative_to(NBS/'images').as_posix()
    if target.is_relative_to(ROOT) and target.exists():                              # CONTRIBUTING.md, tests/...
        kind = 'tree' if target.is_dir() else 'blob'
        return f"{st['url']}/{kind}/{st['branch']}/{target.relative_to(ROOT).as_posix()}" + (f'#{frag}' if frag else '')
    return url                                                                        # left as written (the test flags it)

def fix_markdown(text, st, from_index=False):
    text = text.replace(COLAB, 'images/colab-badge.svg')
    text = LINK.sub(lambda m: m[1] + fix_link(m[2], st, from_index) + m[3], text)
    if from_index:   # the lesson table names each notebook in code: make the name a link to its page
        text = re.sub(r'^\| `([\w-]+)` \|', lambda m: f'| [`{m[1]}`]({page(m[1])}) |' if (NBS/f'{m[1]}.ipynb').exists()
                      else m[0], text, flags=re.M)
    return text

def shown(cell):
    "Cells a reader sees: not nbdev's `#| hide` cells nor the `#| default_exp` line"
    s = cell.source.lstrip()
    return not (cell.cell_type == 'code' and re.match(r'#\|\s*(hide\b|default_exp\b)', s) and
                (s.startswith('#| hide') or len(s.splitlines()) == 1))

def title(nb, stem):
    for c in nb.cells:
        m = re.search(r'^# (.+)$', c.source, re.M) if c.cell_type == 'markdown' else None
        if m: return m[1].strip()
    return stem

def first_video(nb):
    for c in nb.cells:
        m = VIDEO.search(c.source) if c.cell_type == 'markdown' else None
        if m: return m[1].strip(), m[2]
    return None

def nav(pages, i, st):
    "The bar on top of each page: the index, the previous and next notebook, the repository"
    links = ['<a href="index.html">exp · lessons</a>']
    if i is not None and i > 0: links.append(f'<a href="{page(pages[i-1][0])}">← {html.escape(pages[i-1][0])}</a>')
    if i is not None and i+1 < len(pages): links.append(f'<a href="{page(pages[i+1][0])}">{html.escape(pages[i+1][0])} →</a>')
    links += ['<span class="exp-site-gap"></span>', f'<a href="{st["url"]}">GitHub</a>']
    return '<nav class="exp-site">' + ' '.join(links) + '</nav>'

def inline(md):
    "A title or link text in HTML: escaped, its `code` spans as <code>"
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(md))

def lesson_table(pages, st):
    "The index's table of every notebook: page, title, first video link, Colab badge"
    rows = []
    for stem, nb in pages:
        v = first_video(nb)
        video = f'<a href="{html.escape(v[1])}">{inline(v[0])}</a>' if v else ''
        colab = (f'<a href="https://colab.research.google.com/github/{st["slug"]}/blob/{st["branch"]}/nbs/{stem}.ipynb">'
                 f'<img src="images/colab-badge.svg" alt="Open In Colab"></a>')
        rows.append(f'<tr><td><a href="{page(stem)}"><code>{stem}</code></a></td><td>{inline(title(nb, stem))}</td>'
                    f'<td>{video}</td><td>{colab}</td></tr>')
    return ('<table class="exp-lessons"><thead><tr><th>notebook</th><th>title</th><th>video</th><th>open</th></tr>'
            '</thead><tbody>' + ''.join(rows) + '</tbody></table>')

MARK = '.exp-site'

def build(out):
    import warnings, nbformat
    warnings.filterwarnings('ignore', message='Cell is missing an id field')   # the cell added to the index
    from nbconvert import HTMLExporter
    st, out = settings(), Path(out)
    if out.exists() and any(out.iterdir()) and not (out/MARK).exists():
        sys.exit(f"{out} is not empty and was not built by this script: pass an empty or new folder to --out")
    if out.exists(): shutil.rmtree(out)                    # an earlier build of the site
    out.mkdir(parents=True)
    (out/MARK).write_text('built by tools/build_site.py: the next build replaces this folder\n')
    if (NBS/'images').exists(): shutil.copytree(NBS/'images', out/'images')
    (out/'images').mkdir(exist_ok=True); (out/'images'/'colab-badge.svg').write_text(BADGE)
    exporter = HTMLExporter(template_name='site_template', extra_template_basedirs=[str(ROOT/'tools')],
                            exclude_anchor_links=False)
    pages = [(p.stem, nbformat_read(p.stem)) for p in notebooks()]
    index = nbformat_read('index')
    # every page's own rendering: the saved outputs, links fixed, hidden cells left out
    for i, (stem, nb) in enumerate([('index', index)] + pages):
        nb = nbformat.from_dict(nb)
        nb.cells = [c for c in nb.cells if shown(c)]
        for c in nb.cells:
            if c.cell_type == 'markdown': c.source = fix_markdown(c.source, st, from_index=stem == 'index')
        if stem == 'index':   # the table of every notebook, after the README's first section
            cell = nbformat.v4.new_markdown_cell('## Every notebook\n\n' + lesson_table(pages, st))
            nb.cells.insert(min(len(nb.cells), 3), cell)
        res = {'metadata': {'name': 'exp · lessons' if stem == 'index' else title(nb, stem)},
               'exp_nav': nav(pages, None if stem == 'index' else i-1, st)}
        body, _ = exporter.from_notebook_node(nb, resources=res)
        (out/page(stem)).write_text(body, encoding='utf-8')
    print(f'wrote {len(pages)+1} pages to {out}: open {out/"index.html"}')
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=str(ROOT/'_site'), help='the folder to write (replaced): default _site/')
    ap.add_argument('--open', action='store_true', help='open the index in the default browser afterwards')
    args = ap.parse_args()
    out = build(args.out)
    if args.open:
        import webbrowser
        webbrowser.open((out/'index.html').resolve().as_uri())

if __name__ == '__main__': main()
