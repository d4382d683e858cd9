"""The lesson site (tools/build_site.py), opened in a real browser: headless Chromium through Playwright.

Every page loads without a console error, every saved plot renders, every link between pages resolves, no page
shows a traceback or a machine path, and a lesson's first screen shows its title and its first question.
Needs `pip install playwright` (the dev extra) and a Chromium (`apt-get install chromium`; `playwright install`
works too where it can download): skipped without them, unless EXP_REQUIRE_BROWSER=1 (CI), where that fails.
EXP_SITE_SCREENSHOTS=DIR saves each lesson's first screen there."""
import functools, http.server, os, re, shutil, subprocess, sys, threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit
import pytest

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_site  # noqa: E402

MACHINE = re.compile(r"/work/|/root/|/home/\w+/|/tmp/\w|C:\\Users")
SCREEN = dict(width=1280, height=800)

def chromium():
    "The browser to drive: $CHROMIUM, a system Chromium, or None (then Playwright's own, if it has one)"
    for c in [os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome']:
        if c and shutil.which(c): return shutil.which(c)

def _missing():
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return 'playwright is not installed (pip install playwright, or the dev extra)'
    if chromium() is None and not list(Path.home().glob('.cache/ms-playwright/chromium*')):
        return 'no Chromium (apt-get install chromium, or playwright install chromium)'

MISSING = _missing()
if MISSING and os.environ.get('EXP_REQUIRE_BROWSER') == '1':
    raise RuntimeError(f'EXP_REQUIRE_BROWSER=1 but {MISSING}')
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or '')

PAGES = ['index'] + [p.stem for p in build_site.notebooks()]
LESSONS = [s for s in PAGES if re.match(r'\d', s)]

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site, built into a temporary folder and served on 127.0.0.1 (as a static host would)"
    out = tmp_path_factory.mktemp('site')/'_site'
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_site.py'), '--out', str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(out))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield out, f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown()

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=['--no-sandbox'])
        yield b
        b.close()

def saved_images(stem):
    "How many images a notebook's saved outputs hold (what its page must show)"
    nb = build_site.nbformat_read(stem)
    return sum(any(k.startswith('image/') for k in o.get('data', {})) for c in nb.cells
               if c.cell_type == 'code' and build_site.shown(c) for o in c.outputs)

def visit(browser, url):
    "Open `url` at a laptop's screen size; return the page and the console errors and page errors it raised"
    page = browser.new_page(viewport=SCREEN)
    errors = []
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' else None)
    page.on('pageerror', lambda e: errors.append(str(e)))
    page.on('requestfailed', lambda r: errors.append(f'request failed: {r.url}'))
    resp = page.goto(url, wait_until='load')
    assert resp and resp.ok, f'{url}: {resp and resp.status}'
    return page, errors

def test_the_site_holds_every_notebook(site):
    out, _ = site
    assert sorted(p.stem for p in out.glob('*.html')) == sorted(PAGES)
    assert {'06_cuda', '09b_learner', '10_augmentation'} <= set(LESSONS)

@pytest.mark.parametrize('stem', PAGES)
def test_page(site, browser, stem):
    out, base = site
    page, errors = visit(browser, base + build_site.page(stem))
    try:
        assert not errors, f'{stem}: console errors: {errors[:5]}'
        # every image (saved plots, the Colab badges) decoded, none broken
        imgs = page.eval_on_selector_all('img', 'els => els.map(i => [i.currentSrc.slice(0, 60), i.complete, i.naturalWidth])')
        broken = [i for i in imgs if not i[1] or i[2] == 0]
        assert not broken, f'{stem}: images that do not render: {broken[:5]}'
        plots = sum(1 for i in imgs if i[0].startswith('data:image/'))
        if stem != 'index': assert plots >= saved_images(stem), f'{stem}: {plots} plots shown, {saved_images(stem)} saved'
        # every link to a page of the site (or an image) resolves, anchors included
        hrefs = page.eval_on_selector_all('a[href]', 'els => els.map(a => a.getAttribute("href"))')
        for h in hrefs:
            u = urlsplit(urljoin(base + build_site.page(stem), h))
            if u.scheme in ('http', 'https') and u.netloc != urlsplit(base).netloc: continue    # GitHub, Colab, videos
            assert u.scheme in ('http', 'https'), f'{stem}: link {h!r} is not a web link'
            target = out/u.path.lstrip('/')
            assert target.is_file(), f'{stem}: link {h!r} goes nowhere on the site'
            if u.fragment and target.suffix == '.html':
                assert f'id="{u.fragment}"' in target.read_text(encoding='utf-8'), f'{stem}: no anchor #{u.fragment} in {target.name}'
        text = page.inner_text('body')
        assert 'Traceback (most recent call last)' not in text and 'Error Traceback' not in text, f'{stem} shows a traceback'
        found = MACHINE.findall(text)
        assert not found, f'{stem} shows a machine path: {found[:3]}'
    finally: page.close()

# In the title's cell: the opening paragraph (the first with text of its own, not only a badge or video links), and
# the first paragraph that asks a question, if that cell asks one. [tag, text, top, height] of each, or null.
FIRST_SCREEN = """() => {
  const h1 = document.querySelector('h1'), cell = h1.closest('.jp-Cell') || document.body;
  const ps = Array.from(cell.querySelectorAll('p')).filter(p => h1.compareDocumentPosition(p) & Node.DOCUMENT_POSITION_FOLLOWING);
  const own = p => { const c = p.cloneNode(true); c.querySelectorAll('a, img').forEach(e => e.remove());
                     return c.innerText.replace(/[·|\\s]/g, '').length > 0; };
  const box = e => { if (!e) return null; const r = e.getBoundingClientRect(); return [e.tagName, e.innerText.slice(0, 80), r.top, r.height]; };
  return [box(ps.find(own)), box(ps.find(p => p.innerText.includes('?')))];
}"""

def plain(md): return re.sub(r'[`*_¶]', '', md).strip()

@pytest.mark.parametrize('stem', LESSONS)
def test_first_screen(site, browser, stem):
    "Without scrolling, a lesson shows its title (the notebook's heading) and what it asks first"
    _, base = site
    page, _ = visit(browser, base + build_site.page(stem))
    try:
        nb = build_site.nbformat_read(stem)
        h1 = page.locator('h1').first
        assert plain(h1.inner_text()) == plain(build_site.title(nb, stem))
        box = h1.bounding_box()
        assert box and 0 <= box['y'] and box['y'] + box['height'] <= SCREEN['height'], f'{stem}: title off screen ({box})'
        opening, question = page.evaluate(FIRST_SCREEN)
        assert opening, f'{stem}: no opening paragraph under the title'
        for what, el in [('opening', opening), ('first question', question)]:
            if el: assert el[2] + min(el[3], 40) <= SCREEN['height'], f'{stem}: its {what} {el[1]!r} starts below the first screen'
        if os.environ.get('EXP_SITE_SCREENSHOTS'):
            d = Path(os.environ['EXP_SITE_SCREENSHOTS']); d.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(d/f'{stem}.png'))
    finally: page.close()
