"Every lesson notebook opens Colab-ready, is saved clean and executed, and the README quotes what it printed"
import ast, configparser, json, re, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]
ALL_NBS = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))             # the lessons and their companions
LESSONS = ['00_data', '05_foundations', '05b_early_stopping', '06_cuda', '07_batchnorm', '07a_lsuv', '08_data_block',
           '09_optimizers', '09b_learner', '09c_add_progress_bar', '10_augmentation', '10b_mixup_label_smoothing', '10c_fp16',
           '11_train_imagenette', '11a_transfer_learning']
NBS = [p for p in ALL_NBS if p.stem in LESSONS]
cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
REPO = cfg['DEFAULT']['git_url'].split('github.com/')[1]
SKIP = re.compile(r'^\s*#\|\s*(slow\b|eval:\s*false)', re.M)

def cells(nb): return json.loads(Path(nb).read_text())['cells']
def src(c): return ''.join(c['source'])
def run_cells(nb):
    "The code cells of the default run (`#| slow` and `#| eval: false` cells are not executed)"
    return [c for c in cells(nb) if c['cell_type'] == 'code' and not SKIP.search(src(c))]

def test_all_lessons_present():
    assert [p.stem for p in NBS] == LESSONS

@pytest.mark.parametrize('nb', [p for p in ALL_NBS if p.stem not in LESSONS], ids=lambda p: p.stem)
def test_companions_are_linked(nb):
    "A companion notebook (the evidence beside a lesson) is linked from its lesson, and exports nothing"
    num = nb.stem.split('_')[0]                     # 07a_lsuv_checked -> 07a_lsuv; 00a_download -> 00_data
    lesson = next(ROOT/'nbs'/f'{l}.ipynb' for n in (num, num.rstrip('abc')) for l in LESSONS if l.split('_')[0] == n)
    assert nb.name in ''.join(src(c) for c in cells(lesson) if c['cell_type'] == 'markdown'), f'{lesson.name} does not link {nb.name}'
    assert not any('default_exp' in src(c) for c in cells(nb)) or nb.stem == '00a_download'

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_ready(nb):
    "Colab opens it on a GPU runtime, and its last cell exports only where it can (tools/repo_links.py writes both)"
    sys.path.insert(0, str(ROOT/'tools'))
    from repo_links import COLAB_META, EXPORT_CELL
    meta = json.loads(Path(nb).read_text())['metadata']
    assert all(meta.get(k) == v for k,v in COLAB_META.items()), meta
    assert src(cells(nb)[-1]) == EXPORT_CELL

@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_badge_and_install_cell(nb):
    cs = cells(nb)
    title = next(c for c in cs if c['cell_type'] == 'markdown')
    assert f'colab.research.google.com/github/{REPO}/blob/main/nbs/{nb.name}' in src(title)
    code = [src(c) for c in cs if c['cell_type'] == 'code']
    install = code[1]   # right after `#| default_exp`, before anything is imported from exp
    assert "if 'google.colab' in sys.modules:" in install and f'git+https://github.com/{REPO}' in install
    assert '#| export' in code[2] and (nb.stem == '00_data' or 'from exp.nb_' in code[2])

@pytest.mark.parametrize('nb', ALL_NBS + [ROOT/'nbs'/'index.ipynb'], ids=lambda p: p.stem)
def test_markdown_is_markdown(nb):
    "No markdown cell keeps a script's `# ` comment prefix on every line (it would render as headings)"
    for c in cells(nb):
        lines = src(c).split('\n')
        if c['cell_type'] == 'markdown' and len(lines) > 1:
            assert not all(l == '#' or l.startswith('# ') for l in lines), src(c)[:200]

@pytest.mark.parametrize('nb', ALL_NBS, ids=lambda p: p.stem)
def test_saved_clean(nb):
    "nbdev_clean's form: no execution counts, no metadata"
    for c in cells(nb):
        assert c['metadata'] == {}
        if c['cell_type'] == 'code': assert c['execution_count'] is None

# --- committed executed: what a student sees without running anything

PLOTS = re.compile(r'^(plot\w*|\w+_plot|show\w*|imshow|hist|bar|scatter|subplots|figure|color_dim|dead_chart)$')

def top_level_calls(code, skip=()):
    "Names of the functions a cell calls itself (not inside the functions or classes it defines, nor in `skip` nodes)"
    code = '\n'.join(l for l in code.split('\n') if not l.lstrip().startswith(('%', '!')))
    out, todo = [], list(ast.parse(code).body)
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda) + skip): continue
        if isinstance(n, ast.If) and 'slow_run' in ast.unparse(n.test): continue   # a long experiment: skipped by default
        if isinstance(n, ast.Call):
            f = n.func
            out.append(f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', ''))
        todo.extend(ast.iter_child_nodes(n))
    return out

def outputs_text(o):
    if o['output_type'] == 'stream': return ''.join(o['text'])
    return ''.join(o.get('data', {}).get('text/plain', ''))

def test_call_detection():
    "the checker itself: calls in a function body do not count, calls in loops and arguments do"
    assert top_level_calls('def f():\n    plt.plot(x)\nprint(1)') == ['print']
    assert set(top_level_calls('for i in r: ax.imshow(g(i))')) == {'imshow', 'g'}
    assert top_level_calls('try: f()\nexcept OSError: print(1)', skip=(ast.ExceptHandler,)) == ['f']
    assert top_level_calls("if slow_run('x', 1): plt.plot(x)\nprint(1)") == ['print']
    assert PLOTS.match('plot_stats') and PLOTS.match('show_batch') and not PLOTS.match('fit')

@pytest.mark.parametrize('nb', ALL_NBS, ids=lambda p: p.stem)
def test_committed_executed(nb):
    "Every cell of the default run ran without error; printing cells saved text, plotting cells an image"
    problems = []
    for i, c in enumerate(run_cells(nb)):
        outs, code = c['outputs'], src(c)
        first = code.strip().split('\n')[0][:70]
        if any(o['output_type'] == 'error' for o in outs): problems.append(f'error output: {first}')
        calls = top_level_calls(code)
        if 'print' in top_level_calls(code, skip=(ast.If, ast.ExceptHandler)) and not any(outputs_text(o).strip() for o in outs):
            problems.append(f'prints but saved no output: {first}')
        if any(PLOTS.match(f) for f in calls) and 'close' not in calls and \
           not any('image/png' in o.get('data', {}) for o in outs):
            problems.append(f'plots but saved no image: {first}')
    assert not problems, f'{nb.name} is not a complete run (python tools/run_notebooks.py {nb.relative_to(ROOT)}):\n' + '\n'.join(problems)

@pytest.mark.parametrize('nb', ALL_NBS, ids=lambda p: p.stem)
def test_outputs_stay_small(nb):
    "no progress-bar spam or huge HTML: a saved notebook stays readable on GitHub"
    for c in run_cells(nb):
        for o in c['outputs']:
            assert len(outputs_text(o)) < 20_000, src(c)[:100]
            assert len(o.get('data', {}).get('text/html', '')) < 20_000, src(c)[:100]
            assert len(o.get('data', {}).get('image/png', '')) < 700_000, src(c)[:100]   # a grid of photos at 110 dpi: ~0.6 MB

# --- the landing page and the README

sys.path.insert(0, str(ROOT/'tools'))
from make_readme import readme_text

def test_readme_is_the_index():
    assert (ROOT/'README.md').read_text() == readme_text(), 'run python tools/make_readme.py'

def test_settings_name_existing_notebooks():
    assert (ROOT/'nbs'/cfg['DEFAULT']['readme_nb']).exists()

def test_index_links_every_lesson():
    text = readme_text()
    for nb in NBS: assert f'colab.research.google.com/github/{REPO}/blob/main/nbs/{nb.name}' in text, nb.name

def results_rows():
    "The README's results table: (notebook, row text, the figures in the `exp` and spread columns)"
    text = readme_text().split('## Results', 1)[1].split('\n## ', 1)[0]
    rows = [l for l in text.split('\n') if re.match(r'\|\s*(0\d|1\d)', l)]
    assert len(rows) >= 8
    out = []
    for r in rows:
        cols = [c.strip() for c in r.strip('|').split('|')]
        out.append((cols[0], r, re.findall(r'\d\.\d{3,4}', ' '.join(cols[2:4]))))
    return out

def notebook_text(stem, markdown=False):
    cs = [c for p in ALL_NBS if p.stem.split('_')[0] == stem for c in cells(p)]   # the lesson and its companions
    t = ''.join(outputs_text(o) for c in cs if c['cell_type'] == 'code' for o in c['outputs'])
    return t + (''.join(src(c) for c in cs if c['cell_type'] == 'markdown') if markdown else '')

@pytest.mark.parametrize('stem,line,figs', results_rows(), ids=lambda o: o[:40] if isinstance(o, str) else '')
def test_readme_results_are_printed(stem, line, figs):
    "each figure the README quotes for us is one the committed notebook printed (slow runs: quoted in its markdown)"
    assert figs, f'no figure in: {line}'
    text = notebook_text(stem, markdown='slow' in line)
    missing = [f for f in figs if f not in text]
    assert not missing, f'{missing} not printed by notebook {stem}: {line}'

def test_docs_preprocessing(tmp_path):
    "`nbdev_docs` (where Quarto exists) first runs nbdev's notebook processing: it must pass on every notebook"
    import shutil, subprocess
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    for f in ('settings.ini', 'README.md'): shutil.copy(ROOT/f, tmp_path/f)
    shutil.copytree(ROOT/'exp', tmp_path/'exp')
    code = ('from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar, proc_nbs\n'
            'refresh_quarto_yml(); nbdev_sidebar.__wrapped__(); print(proc_nbs(n_workers=0))')
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert {p.name for p in (tmp_path/'_proc').glob('*.ipynb')} >= {p.name for p in NBS} | {'index.ipynb'}
