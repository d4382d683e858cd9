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
