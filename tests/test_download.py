"Download tests that need a server in a process of its own: it is killed in the middle of a transfer"
import hashlib, os, signal, socket, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
from exp.nb_00 import download_url, DownloadError, ChecksumError, untar_data

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
                n = min(len(block), size-sent); self.wfile.write(block[:n]); sent += n
    http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
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
from exp.nb_00 import CorruptFileError, UnsafeArchiveError, mnist_files, URLs, data_dir

class _Odd(http.server.SimpleHTTPRequestHandler):
    "Serves its folder; /nolen/F: F with no Content-Length; /halfnolen/F: half of F, no length; /chunked/F, /chunked-cut: chunked"
    def log_message(self, *a): pass
    def _send(self, body, headers=(), stop=None, status=200):
        self.send_response(status)
        for k,v in headers: self.send_header(k, v)
        self.end_headers(); self.wfile.write(body[:stop]); self.wfile.flush(); self.close_connection = True
    def do_GET(self):
        p = self.path.split('?')[0]
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
    # the documented limit: a plain file, no length, no checksum, cut by a closed connection, cannot be told from a whole one
    assert download_url(base+'halfnolen/f.bin', tmp_path/'f.bin', show_progress=False).stat().st_size == len(data)//2

@pytest.mark.parametrize('path,match', [('badlen', 'could not download'), ('error500', '500'), ('html/ds.tgz', 'HTML page')])
def test_bad_answers_are_download_errors(odd, tmp_path, path, match):
    _,base = odd
    with pytest.raises(DownloadError, match=match): download_url(base+path, tmp_path/Path(path).name, show_progress=False)
    assert _names(tmp_path) == []

def test_mnist_second_mirror_after_a_bad_first(odd, tmp_path):
    "The first mirror sends no length and cuts every file: DownloadError/ChecksumError, so the second mirror is tried"
    root,base = odd
    src = Path('/work/shared/data/mnist') if Path('/work/shared/data/mnist').is_dir() else data_dir()/'mnist'
    if not all((src/n).exists() for n in URLs.MNIST_FILES): pytest.skip('no MNIST copy to serve')
    for n in URLs.MNIST_FILES: shutil.copy(src/n, root/n)
    paths = mnist_files(tmp_path/'mnist', mirrors=[base+'halfnolen/', base+'nolen/'], timeout=5)
    assert _names(tmp_path/'mnist') == sorted(['.exp_verified.json', *URLs.MNIST_FILES])
    assert all(p.read_bytes() == (src/n).read_bytes() for n,p in paths.items())

def test_imagenette_falls_back_to_local_copy(odd, tmp_path, monkeypatch):
    "A server answering with an HTML page and no length: find_imagenette warns and uses the local copy"
    local = Path('/work/shared/data/imagenette2-224')
    if not (local/'train').is_dir(): pytest.skip('no local Imagenette')
    from exp.nb_08 import find_imagenette
    d = tmp_path/'data'; d.mkdir(); (d/'imagenette2-224').symlink_to(local)
    monkeypatch.setenv('EXP_DATA', str(d))
    _,base = odd
    with pytest.warns(UserWarning, match='local copy'): got = find_imagenette(base+'html/imagenette2-160.tgz')
    assert got == d/'imagenette2-224' and _names(d) == ['imagenette2-224']

def test_untar_query_string_every_call(odd, tmp_path):
    root,base = odd
    _tgz(root/'ds.tgz', [('ds/a.txt', b'A')])
    for _ in range(3): assert untar_data(base+'ds.tgz?download=1', dest=tmp_path) == tmp_path/'ds'
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
    assert untar_data(base+'plain', dest=tmp_path) == tmp_path/'plain'   # no extension means .tgz, as in fastai v1

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
