"Download tests that need a server in a process of its own: it is killed in the middle of a transfer"
import hashlib, os, signal, socket, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
pytestmark = pytest.mark.filterwarnings('ignore::exp.download.UnverifiedDownloadWarning')   # tested where it matters
from exp.download import download_url, DownloadError, ChecksumError, untar_data, data_dir

SRC_DATA = data_dir()   # where this run's data lives ($EXP_DATA, else the clone's data/): tests change EXP_DATA

SERVER = textwrap.dedent('''
    import http.server, sys, time
    size = int(sys.argv[2])
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_GET(self):
            self.send_response(200); self.send_header('Content-Length', str(size)); self.end_headers()
            block = bytes(range(256))*256
            sent = 0
            while sent < size:
                if self.path == '/slow' and sent >= size//2: time.sleep(0.05)   # stall half-way: the test kills us
                if self.path == '/crawl' and sent >= 1<<20: time.sleep(0.2)      # a megabyte, then a crawl: a client is killed
                n = min(len(block), size-sent); self.wfile.write(block[:n]); sent += n
    http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
''')

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def server(tmp_path):
    port,size = _free_port(),4_000_000
    p = subprocess.Popen([sys.executable, '-c', SERVER, str(port), str(size)])
    for _ in range(100):
        try: socket.create_connection(('127.0.0.1', port), timeout=0.1).close(); break
        except OSError: time.sleep(0.05)
    yield p, f'http://127.0.0.1:{port}/', size
    p.kill(); p.wait()

def _expected(size):
    block = bytes(range(256))*256
    return (block*(size//len(block)+1))[:size]

def test_good_download(server, tmp_path):
    _,base,size = server
    sha = hashlib.sha256(_expected(size)).hexdigest()
    out = download_url(base+'file', tmp_path/'f.bin', sha256=sha, show_progress=False)
    assert out.read_bytes() == _expected(size)
    assert [o.name for o in tmp_path.iterdir()] == ['f.bin']

def test_wrong_checksum_leaves_nothing(server, tmp_path):
    _,base,_ = server
    with pytest.raises(ChecksumError, match='should have sha256'):
        download_url(base+'file', tmp_path/'f.bin', sha256='0'*64, show_progress=False)
    assert list(tmp_path.iterdir()) == []

def test_server_killed_mid_transfer_leaves_nothing(server, tmp_path):
    proc,base,_ = server
    import threading
    threading.Timer(0.5, proc.kill).start()   # the server dies while it stalls half-way
    with pytest.raises(DownloadError):
        download_url(base+'slow', tmp_path/'f.bin', show_progress=False, timeout=5)
    assert list(tmp_path.iterdir()) == []

def test_unreachable_host_fails_fast(tmp_path):
    t0 = time.time()
    with pytest.raises(DownloadError, match='could not download'):
        download_url(f'http://127.0.0.1:{_free_port()}/x.tgz', tmp_path/'x.tgz', show_progress=False)
    assert time.time()-t0 < 5
    with pytest.raises(DownloadError):
        untar_data(f'http://127.0.0.1:{_free_port()}/x.tgz', dest=tmp_path)
    assert list(tmp_path.iterdir()) == []


# ---- servers that misbehave the way real ones do (issue 13), in a thread of this process ----
import functools, gzip, http.server, io, shutil, tarfile, threading, warnings, zipfile
from exp.download import CorruptFileError, UnsafeArchiveError, UnverifiedDownloadWarning, mnist_files, URLs

class _Odd(http.server.SimpleHTTPRequestHandler):
    "Serves its folder; /nolen/F: F with no Content-Length; /halfnolen/F: half of F, no length; /chunked/F, /chunked-cut: chunked"
    seen = []   # the paths requested, query strings included
    def log_message(self, *a): pass
    def _send(self, body, headers=(), stop=None, status=200):
        self.send_response(status)
        for k,v in headers: self.send_header(k, v)
        self.end_headers(); self.wfile.write(body[:stop]); self.wfile.flush(); self.close_connection = True
    def do_GET(self):
        p = self.path.split('?')[0]
        type(self).seen.append(self.path)
        root = Path(self.directory)
        if p.startswith('/nolen/'): self._send((root/p[7:]).read_bytes())
        elif p.startswith('/halfnolen/'): b = (root/p[11:]).read_bytes(); self._send(b, stop=len(b)//2)
        elif p.startswith('/chunked/'):
            b = (root/p[9:]).read_bytes()
            self._send(b''.join(f'{len(c):x}\r\n'.encode()+c+b'\r\n' for c in (b[:len(b)//2], b[len(b)//2:]) if c) + b'0\r\n\r\n',
                       [('Transfer-Encoding', 'chunked')])
        elif p == '/chunked-cut': self._send(b'100000\r\n' + b'x'*5000, [('Transfer-Encoding', 'chunked')])
        elif p == '/badlen': self._send(b'abc', [('Content-Length', 'three')])
        elif p == '/error500': self._send(b'oops', [('Content-Length', '4')], status=500)
        elif p.startswith('/html/'): self._send(b'<!DOCTYPE html><html><body>Sign in</body></html>', [('Content-Type', 'text/html')])
        else: super().do_GET()

@pytest.fixture
def odd(tmp_path_factory):
    root = tmp_path_factory.mktemp('srv')
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Odd, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown(); srv.server_close()

def _tgz(path, members):
    with tarfile.open(path, 'w:gz') as tf:
        for name,data in members: ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))

def _names(d): return sorted(o.name for o in Path(d).iterdir())

@pytest.mark.parametrize('show', [True, False])
def test_no_content_length_complete(odd, tmp_path, capsys, show):
    root,base = odd
    (root/'f.bin').write_bytes(_expected(2_500_000))
    out = download_url(base+'nolen/f.bin', tmp_path/'f.bin', show_progress=show)   # crashed in the progress bar before
    assert out.read_bytes() == _expected(2_500_000)
    if show: assert 'did not announce the size' in capsys.readouterr().out

def test_chunked_complete_and_cut(odd, tmp_path):
    root,base = odd
    (root/'f.bin').write_bytes(_expected(300_000))
    assert download_url(base+'chunked/f.bin', tmp_path/'f.bin', show_progress=False).read_bytes() == _expected(300_000)
    with pytest.raises(DownloadError, match='IncompleteRead'):
        download_url(base+'chunked-cut', tmp_path/'g.bin', show_progress=False)
    assert _names(tmp_path) == ['f.bin']

def test_no_length_truncation(odd, tmp_path):
    root,base = odd
    data = _expected(400_000)
    (root/'f.gz').write_bytes(gzip.compress(data)); (root/'f.bin').write_bytes(data)
    with pytest.raises(DownloadError, match='not a complete f.gz'):        # no checksum: the gzip stream's end is missing
        download_url(base+'halfnolen/f.gz', tmp_path/'f.gz', show_progress=False)
    with pytest.raises(ChecksumError, match='should have sha256'):         # a checksum catches any file
        download_url(base+'halfnolen/f.bin', tmp_path/'f.bin', sha256=hashlib.sha256(data).hexdigest(), show_progress=False)
    assert _names(tmp_path) == []
    # the documented limit: a plain file, no length, no checksum, cut by a closed connection, cannot be told from a whole one,
    # and download_url says so
    with pytest.warns(UnverifiedDownloadWarning, match='truncated file would pass'):
        assert download_url(base+'halfnolen/f.bin', tmp_path/'f.bin', show_progress=False).stat().st_size == len(data)//2

@pytest.mark.parametrize('path,match', [('badlen', 'could not download'), ('error500', '500'), ('html/ds.tgz', 'HTML page')])
def test_bad_answers_are_download_errors(odd, tmp_path, path, match):
    _,base = odd
    with pytest.raises(DownloadError, match=match): download_url(base+path, tmp_path/Path(path).name, show_progress=False)
    assert _names(tmp_path) == []

def test_mnist_second_mirror_after_a_bad_first(odd, tmp_path):
    "The first mirror sends no length and cuts every file: DownloadError/ChecksumError, so the second mirror is tried"
    root,base = odd
    src = SRC_DATA/'mnist'
    if not all((src/n).exists() for n in URLs.MNIST_FILES): pytest.skip('no MNIST copy to serve')
    for n in URLs.MNIST_FILES: shutil.copy(src/n, root/n)
    paths = mnist_files(tmp_path/'mnist', mirrors=[base+'halfnolen/', base+'nolen/'], timeout=5)
    assert _names(tmp_path/'mnist') == sorted(['.exp_verified.json', *URLs.MNIST_FILES])
    assert all(p.read_bytes() == (src/n).read_bytes() for n,p in paths.items())

def test_imagenette_local_copy_first(odd, tmp_path, monkeypatch):
    "find_imagenette uses a local copy without asking the server; with none, a server answering HTML gives an error naming the folder"
    from exp.nb_08 import find_imagenette
    _,base = odd
    d = tmp_path/'data'; d.mkdir(); monkeypatch.setenv('EXP_DATA', str(d))
    with pytest.raises(FileNotFoundError, match='no local copy') as e: find_imagenette(base+'html/imagenette2-160.tgz')
    assert str(d) in str(e.value) and _names(d) == []
    local = SRC_DATA/'imagenette2-224'
    if not (local/'train').is_dir(): pytest.skip('no local Imagenette')
    (d/'imagenette2-224').symlink_to(local); _Odd.seen.clear()
    assert find_imagenette(base+'html/imagenette2-160.tgz') == d/'imagenette2-224' and _Odd.seen == []

def test_untar_query_string_every_call(odd, tmp_path):
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    for _ in range(3): assert untar_data(base+'ds.tgz?download=1', dest=tmp_path) == tmp_path/'ds'
    assert '/ds.tgz?download=1' in _Odd.seen                                  # the request keeps the query string
    assert (tmp_path/'ds'/'a.txt').read_text() == 'A' and _names(tmp_path) == ['ds', 'ds.tgz']

def test_untar_html_archive(odd, tmp_path):
    root,base = odd
    with pytest.raises(DownloadError, match='HTML page'): untar_data(base+'html/ds.tgz', dest=tmp_path)
    assert _names(tmp_path) == []
    (root/'notar.tgz').write_bytes(gzip.compress(b'<html>gzip, but no tar</html>'))   # passes its checksum, cannot extract
    sha = hashlib.sha256((root/'notar.tgz').read_bytes()).hexdigest()
    with pytest.raises(DownloadError, match='the download was deleted'): untar_data(base+'notar.tgz', dest=tmp_path, sha256=sha)
    assert _names(tmp_path) == []

def test_untar_old_bad_archive_kept_then_force(odd, tmp_path):
    root,base = odd
    (tmp_path/'ds.tgz').write_bytes(b'<html>an old failed download</html>')
    with pytest.raises(CorruptFileError, match='force=True'): untar_data(base+'ds.tgz', dest=tmp_path)
    assert _names(tmp_path) == ['ds.tgz']                                  # not ours to delete: kept
    _tgz(root/'ds.tgz', [('ds/a.txt', b'new')])
    assert (untar_data(base+'ds.tgz', dest=tmp_path, force=True)/'a.txt').read_text() == 'new'

def test_untar_force_with_dead_server_keeps_everything(odd, tmp_path):
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'v1')])
    untar_data(base+'ds.tgz', dest=tmp_path)
    dead = f'http://127.0.0.1:{_free_port()}/ds.tgz'
    with pytest.raises(DownloadError): untar_data(dead, dest=tmp_path, force=True)
    assert _names(tmp_path) == ['ds', 'ds.tgz'] and (tmp_path/'ds'/'a.txt').read_text() == 'v1'

def test_untar_zip_and_no_extension(odd, tmp_path):
    root,base = odd
    with zipfile.ZipFile(root/'z.zip', 'w') as zf: zf.writestr('z/a.txt', 'zipped'); zf.writestr('z/sub/b.txt', 'deep')
    assert (untar_data(base+'z.zip', dest=tmp_path)/'sub'/'b.txt').read_text() == 'deep'
    _tgz(root/'plain.tgz', [('plain/a.txt', b'p')])
    with pytest.warns(UserWarning, match='no archive extension'):                # no extension means .tgz, as in fastai v1, said
        assert untar_data(base+'plain', dest=tmp_path) == tmp_path/'plain'

@pytest.mark.parametrize('name', ['../evil', '/abs/evil', 'link'])
def test_untar_evil_zip(odd, tmp_path, name):
    root,base = odd
    with zipfile.ZipFile(root/'e.zip', 'w') as zf:
        zf.writestr('e/ok.txt', 'fine')
        if name == 'link':
            zi = zipfile.ZipInfo('e/link'); zi.external_attr = (0o120777) << 16; zf.writestr(zi, '/etc/passwd')
        else: zf.writestr(name, 'evil')
    with pytest.raises(UnsafeArchiveError, match='download was deleted'): untar_data(base+'e.zip', dest=tmp_path/'d')
    assert _names(tmp_path/'d') == [] and not (tmp_path/'evil').exists()

def test_untar_unnamed_url(tmp_path):
    with pytest.raises(ValueError, match='cannot tell which archive'): untar_data('http://127.0.0.1:1/.tgz', dest=tmp_path)
    assert _names(tmp_path) == []


# ---- issue 24: nothing left behind by a killed process, loud errors for proxies, archives, read-only folders, paths ----
import errno, warnings
import exp.download as dl

def _hidden(d): return sorted(o.name for o in Path(d).iterdir() if o.name.startswith('.'))

def _child(code, *args):
    "A Python process running `code` (with exp importable), its output discarded"
    return subprocess.Popen([sys.executable, '-c', code, *map(str, args)], cwd=Path(__file__).parents[1],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def _wait_for(cond, what, timeout=60):
    t0 = time.time()
    while not cond():
        if time.time()-t0 > timeout: raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.02)

DOWNLOAD = "import sys; from exp.download import download_url; download_url(sys.argv[1], sys.argv[2], show_progress=False, timeout=60)"

def _part_started(d): return lambda: any(o.name.endswith('.part') and o.stat().st_size > 0 for o in Path(d).iterdir())

def test_sigkill_mid_download_leftover_removed(server, tmp_path):
    "A download killed with SIGKILL leaves its .part behind; the next download of that target removes it"
    _,base,size = server
    p = _child(DOWNLOAD, base+'crawl', tmp_path/'f.bin')
    try: _wait_for(_part_started(tmp_path), 'the .part file')
    finally: p.send_signal(signal.SIGKILL); p.wait()
    assert len(_hidden(tmp_path)) == 1                                   # what the killed process left
    download_url(base+'file', tmp_path/'f.bin', sha256=hashlib.sha256(_expected(size)).hexdigest(), show_progress=False)
    assert _names(tmp_path) == ['f.bin']

def test_two_processes_one_target(server, tmp_path):
    "A live process's temporary file is not touched by another download of the same target; both succeed"
    _,base,size = server
    p = _child(DOWNLOAD, base+'slow', tmp_path/'f.bin')
    try:
        _wait_for(_part_started(tmp_path), 'the other process to start')
        sha = hashlib.sha256(_expected(size)).hexdigest()
        download_url(base+'file', tmp_path/'f.bin', sha256=sha, show_progress=False)
        assert p.poll() is not None or len(_hidden(tmp_path)) == 1      # the other one's .part is still there while it runs
        assert p.wait(timeout=60) == 0
    finally: p.kill(); p.wait()
    assert _names(tmp_path) == ['f.bin'] and (tmp_path/'f.bin').read_bytes() == _expected(size)

EXTRACT = ("import sys, tarfile, time, exp.download\n"
           "real = tarfile.TarFile.makefile\n"
           "def slow(self, *a, **k): real(self, *a, **k); time.sleep(0.05)   # a slow disk: the test kills us mid-way\n"
           "tarfile.TarFile.makefile = slow; exp.download.untar_data(sys.argv[1], dest=sys.argv[2])")

def test_sigkill_mid_extraction_leftover_removed(tmp_path):
    "An extraction killed with SIGKILL leaves its hidden folder behind; the next untar_data of that dataset removes it"
    _tgz(tmp_path/'ds.tgz', [(f'ds/{i}.txt', os.urandom(1000)) for i in range(200)])
    url = f'http://127.0.0.1:{_free_port()}/ds.tgz'                     # never reached: the archive is already there
    def some_extracted(): return any(o.is_dir() and 20 <= len(list(o.rglob('*.txt'))) < 200 for o in tmp_path.iterdir())
    p = _child(EXTRACT, url, tmp_path)
    try: _wait_for(some_extracted, 'the extraction to be under way')
    finally: p.send_signal(signal.SIGKILL); p.wait()
    assert len(_hidden(tmp_path)) == 1 and not (tmp_path/'ds').exists()   # half extracted, left behind
    assert len(list(untar_data(url, dest=tmp_path).iterdir())) == 200
    assert _names(tmp_path) == ['ds', 'ds.tgz']

def _dead_pid():
    p = subprocess.Popen([sys.executable, '-c', 'pass']); p.wait(); return p.pid

def test_stale_rules(tmp_path):
    "Only this target's leftovers go, and only those of a process that is gone, or that have not changed for long"
    t = tmp_path/'f.bin'
    old = time.time() - 2*24*3600
    names = {'dead':        f'.f.bin.{dl._HOST}-{_dead_pid()}-abcdef.part',
             'live':        f'.f.bin.{dl._HOST}-{os.getppid()}-abcdef.part',
             'other host':  '.f.bin.elsewhere-123-abcdef.part',
             'other host, old': '.f.bin.elsewhere-124-abcdef.part',
             'other target': f'.g.bin.{dl._HOST}-{_dead_pid()}-abcdef.part',
             'legacy':      '.f.bin.k2j4_x9q.part',
             'legacy, old': '.f.bin.a1b2c3d4.part',
             'user file':   '.f.bin.notes',
             'user file, old': '.f.bin.backup01'}
    for k,n in names.items():
        (tmp_path/n).write_text(k)
        if 'old' in k: os.utime(tmp_path/n, (old, old))
    (tmp_path/f'.f.bin.{dl._HOST}-{_dead_pid()}-abcdef.extract').mkdir()   # a folder left behind
    dl._remove_stale(t)
    left = {o.read_text() for o in tmp_path.iterdir() if o.is_file()}
    assert left == {'live', 'other host', 'other target', 'legacy', 'user file', 'user file, old'}, left
    assert not any(o.is_dir() for o in tmp_path.iterdir())

def test_no_checksum_warns_once(odd, tmp_path):
    root,base = odd
    (root/'f.bin').write_bytes(b'x'*1000)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        for _ in range(2): download_url(base+'nolen/f.bin', tmp_path/'f.bin', show_progress=False)
        download_url(base+'f.bin', tmp_path/'g.bin', show_progress=False)
        download_url(base+'f.bin', tmp_path/'h.bin', sha256=hashlib.sha256(b'x'*1000).hexdigest(), show_progress=False)
    msgs = [str(w.message) for w in ws if issubclass(w.category, UnverifiedDownloadWarning)]
    assert len(msgs) == 2, msgs                                            # once per URL, none with a checksum
    assert 'nolen/f.bin' in msgs[0] and 'truncated file would pass' in msgs[0] and 'sha256=' in msgs[0]
    assert 'length' in msgs[1] and 'not verified' in msgs[1]

@pytest.mark.parametrize('var', ['http_proxy', 'HTTP_PROXY'])
def test_refusing_proxy_is_named(tmp_path, monkeypatch, var):
    for v in ('http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY', 'REQUEST_METHOD'): monkeypatch.delenv(v, raising=False)
    proxy = f'http://127.0.0.1:{_free_port()}'
    monkeypatch.setenv(var, proxy)
    with pytest.raises(DownloadError) as e: download_url('http://example.invalid/f.bin', tmp_path/'f.bin', show_progress=False)
    assert f'through the proxy {proxy}' in str(e.value) and f'${var}' in str(e.value), str(e.value)
    assert _names(tmp_path) == []

@pytest.mark.parametrize('ext', ['tgz', 'zip'])
@pytest.mark.parametrize('members,match', [
    ([('ds/ok.txt', b'ok'), ('ds/sub/../b.txt', b'dots')], "'ds/sub/../b.txt': a path through '..'"),
    ([('ds/a', b'file'), ('ds/a/b.txt', b'in a folder')], "'ds/a' is both a file and a folder"),
    ([('ds/a/b.txt', b'in a folder'), ('ds/a', b'file')], "'ds/a' is both a file and a folder")])
def test_bad_archive_named_deleted_and_redownloaded(odd, tmp_path, ext, members, match):
    "A clear error naming the archive and member (no temporary folder), the download deleted, a rerun downloads again"
    root,base = odd
    if ext == 'tgz': _tgz(root/'ds.tgz', members)
    else:
        with zipfile.ZipFile(root/'ds.zip', 'w') as zf:
            for n,b in members: zf.writestr(n, b)
    with pytest.raises((UnsafeArchiveError, DownloadError)) as e: untar_data(base+f'ds.{ext}', dest=tmp_path)
    msg = str(e.value)
    assert f'ds.{ext}' in msg and match in msg and '/.ds.' not in msg and str(tmp_path) not in msg, msg
    assert _names(tmp_path) == []                                          # nothing kept: not the archive, not a temp folder
    (root/f'ds.{ext}').unlink(); _tgz(root/'ds.tgz', [('ds/ok.txt', b'fixed')])
    if ext == 'tgz': assert (untar_data(base+'ds.tgz', dest=tmp_path)/'ok.txt').read_text() == 'fixed'

def test_extraction_out_of_space_keeps_archive(odd, tmp_path, monkeypatch):
    "A full disk during extraction is not a bad archive: the archive stays, the error names the folder, no temp folder left"
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    def full(self, path='.', *a, **k): raise OSError(errno.ENOSPC, 'No space left on device', os.path.join(path, 'ds', 'a.txt'))
    monkeypatch.setattr(tarfile.TarFile, 'extractall', full)
    with pytest.raises(OSError, match='No space left') as e: untar_data(base+'ds.tgz', dest=tmp_path)
    assert str(tmp_path) in str(e.value) and '/.ds.' not in str(e.value) and 'ds/a.txt' in str(e.value), str(e.value)
    assert _names(tmp_path) == ['ds.tgz']

def test_read_only_dest(odd, tmp_path):
    "download_url and untar_data into a read-only folder: an error naming it and saying what to do"
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o555)
    try:
        for call in (lambda: download_url(base+'ds.tgz', ro/'ds.tgz', show_progress=False), lambda: untar_data(base+'ds.tgz', dest=ro),
                     lambda: untar_data(base+'ds.tgz', dest=ro/'sub')):
            with pytest.raises(PermissionError, match='read-only') as e: call()
            assert str(ro) in str(e.value) and 'EXP_DATA' in str(e.value)
        assert _names(ro) == []
    finally: ro.chmod(0o755)

def test_paths_take_str_path_and_tilde(odd, tmp_path, monkeypatch):
    "Every path argument takes str, Path and ~/..., as torchvision's datasets and fastai's untar_data do"
    root,base = odd
    home = tmp_path/'home'; home.mkdir(); monkeypatch.setenv('HOME', str(home))
    cwd = tmp_path/'cwd'; cwd.mkdir(); monkeypatch.chdir(cwd)
    (root/'f.bin').write_bytes(b'data'); _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    sha = hashlib.sha256(b'data').hexdigest()
    assert download_url(base+'f.bin', '~/d/f.bin', sha256=sha, show_progress=False) == home/'d'/'f.bin'
    assert dl.file_hash('~/d/f.bin') == sha
    dl.check_file('~/d/f.bin', sha256=sha)
    assert untar_data(base+'ds.tgz', dest='~/data') == home/'data'/'ds' and (home/'data'/'ds'/'a.txt').exists()
    assert (dl.safe_extract('~/data/ds.tgz', '~/out')/'ds'/'a.txt').exists()
    if all((SRC_DATA/'mnist'/n).exists() for n in URLs.MNIST_FILES):
        (home/'m'/'mnist').mkdir(parents=True)
        for n in URLs.MNIST_FILES: shutil.copy(SRC_DATA/'mnist'/n, home/'m'/'mnist'/n)
        closed = [f'http://127.0.0.1:{_free_port()}/']
        assert mnist_files('~/m/mnist', mirrors=closed)['t10k-labels-idx1-ubyte.gz'] == home/'m'/'mnist'/'t10k-labels-idx1-ubyte.gz'
        dl.verify_mnist('~/m/mnist')
        assert dl.read_idx('~/m/mnist/t10k-labels-idx1-ubyte.gz').shape == (10000,)
        assert dl.get_data('~/m', mirrors=closed)[3].shape == (10000,)
    assert list(cwd.iterdir()) == []                                       # no folder named '~'

def test_mirror_url_as_given(odd, tmp_path):
    "A mirror URL without its final '/' or with a query string: each file is fetched from that folder, query kept"
    root,base = odd
    if not all((SRC_DATA/'mnist'/n).exists() for n in URLs.MNIST_FILES): pytest.skip('no MNIST copy to serve')
    (root/'mnist').mkdir()
    for n in URLs.MNIST_FILES: shutil.copy(SRC_DATA/'mnist'/n, root/'mnist'/n)
    _Odd.seen.clear()
    mnist_files(tmp_path/'a', mirrors=[base+'mnist'], timeout=5)
    mnist_files(tmp_path/'b', mirrors=[base+'mnist/?token=abc'], timeout=5)
    assert '/mnist/t10k-labels-idx1-ubyte.gz' in _Odd.seen and '/mnist/t10k-labels-idx1-ubyte.gz?token=abc' in _Odd.seen, _Odd.seen

def test_unverified_warning_points_at_the_callers_line(odd, tmp_path):
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    with pytest.warns(UnverifiedDownloadWarning) as ws: untar_data(base+'ds.tgz', dest=tmp_path)
    assert ws[0].filename == __file__

def test_untar_other_process_finished_first(odd, tmp_path, monkeypatch):
    "Two processes extract one dataset: the one finishing second keeps the first one's folder and leaves nothing behind"
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'mine')])
    real = dl.safe_extract
    def and_the_other(archive, tmp):
        real(archive, tmp)
        (tmp_path/'ds').mkdir(); (tmp_path/'ds'/'a.txt').write_text('theirs')   # the other process renamed its folder in
    monkeypatch.setattr(dl, 'safe_extract', and_the_other)
    assert (untar_data(base+'ds.tgz', dest=tmp_path)/'a.txt').read_text() == 'theirs'
    assert _names(tmp_path) == ['ds', 'ds.tgz']
