"tools/build_site.py without a browser: it never deletes a folder it did not make"
import subprocess, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def build(out): return subprocess.run([sys.executable, str(ROOT/'tools'/'build_site.py'), '--out', str(out)],
                                      capture_output=True, text=True)

def test_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path/'notes.txt').write_text('mine')
    r = build(tmp_path)
    assert r.returncode != 0 and 'not empty' in r.stderr and (tmp_path/'notes.txt').read_text() == 'mine'

def test_replaces_its_own_build(tmp_path):
    out = tmp_path/'_site'
    assert build(out).returncode == 0
    (out/'stale.html').write_text('old')
    assert build(out).returncode == 0 and not (out/'stale.html').exists() and (out/'index.html').exists()
