"Files already on disk are verified (issue 13): damaged MNIST files give an error naming the file, once-checked files are remembered"
import gzip, json, os, pickle, shutil, stat, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest
from exp.nb_00 import URLs, CorruptFileError, ChecksumError, mnist_files, read_idx, get_data, verify_mnist, load_mnist_pkl, data_dir

SRC = Path('/work/shared/data/mnist')
if not SRC.is_dir(): SRC = data_dir()/'mnist'
pytestmark = pytest.mark.skipif(not all((SRC/n).exists() for n in URLs.MNIST_FILES), reason='no MNIST copy')
CLOSED = 'http://127.0.0.1:9/'   # the discard port: nothing listens, so no mirror is reachable
LABELS, IMAGES = 'train-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz'

@pytest.fixture
def copy(tmp_path):
    d = tmp_path/'mnist'; d.mkdir()
    for n in URLs.MNIST_FILES: shutil.copy(SRC/n, d/n)
    return d

def _raw(name): return gzip.decompress((SRC/name).read_bytes())

def _bad_labels(copy):
    raw, good = _raw(LABELS), (SRC/LABELS).read_bytes()
    return {'truncated gz': good[:len(good)//2], 'random bytes': os.urandom(4000), 'empty file': b'',
            'not gzip, plain idx': raw, 'short idx': gzip.compress(raw[:-1]), 'padded idx': gzip.compress(raw+b'\0'),
            'header only': gzip.compress(raw[:8]), 'labels above 9': gzip.compress(raw[:8]+bytes([10])*60000),
            'all-zero labels': gzip.compress(raw[:8]+bytes(60000)), 'one label changed': gzip.compress(raw[:-1]+bytes([(raw[-1]+1)%10])),
            'images instead': (SRC/IMAGES).read_bytes()}

def test_damaged_files_named_and_kept(copy):
    for what,data in _bad_labels(copy).items():
        (copy/LABELS).write_bytes(data)
        with pytest.raises(CorruptFileError) as e: mnist_files(copy, mirrors=[CLOSED])
        msg = str(e.value)
        assert str(copy/LABELS) in msg and 'Delete it' in msg, (what, msg)
        assert (copy/LABELS).read_bytes() == data, what          # nothing deleted
        with pytest.raises(CorruptFileError): get_data(copy.parent, mirrors=[CLOSED])

def test_all_zero_labels_is_a_hash_mismatch(copy):
    (copy/LABELS).write_bytes(gzip.compress(_raw(LABELS)[:8]+bytes(60000)))
    with pytest.raises(ChecksumError, match='should have sha256'): mnist_files(copy, mirrors=[CLOSED])

@pytest.mark.parametrize('what', ['truncated gz', 'random bytes', 'empty file', 'short idx'])
def test_read_idx_names_the_file(copy, what):
    (copy/LABELS).write_bytes(_bad_labels(copy)[what])
    with pytest.raises(CorruptFileError, match=str(copy/LABELS)): read_idx(copy/LABELS)

def test_stamp_remembers_and_notices_changes(copy):
    mnist_files(copy, mirrors=[CLOSED])
    stamps = json.loads((copy/'.exp_verified.json').read_text())
    assert sorted(stamps) == sorted(URLs.MNIST_FILES)
    # a fresh process (nothing in memory), offline: the stamp makes the check near free
    code = ("import time; from exp.nb_00 import mnist_files, get_data; t=time.perf_counter(); "
            f"mnist_files({str(copy)!r}, mirrors=['http://127.0.0.1:9/']); a=time.perf_counter()-t; t=time.perf_counter(); "
            f"get_data({str(copy.parent)!r}, mirrors=['http://127.0.0.1:9/']); print(a, time.perf_counter()-t)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    check_s, get_data_s = map(float, out.stdout.split())
    assert check_s < 0.05 and get_data_s < 1.0, (check_s, get_data_s)
    # a file changed since (new size and mtime) is checked again
    (copy/LABELS).write_bytes(gzip.compress(_raw(LABELS)[:8]+bytes(60000)))
    with pytest.raises(ChecksumError): mnist_files(copy, mirrors=[CLOSED])

def test_read_only_folder_checks_without_a_stamp(copy):
    "A folder whose mode says read-only gets no stamp, even for root (who could write): the shared data copy stays untouched"
    copy.chmod(0o555)
    try:
        mnist_files(copy, mirrors=[CLOSED])
        assert sorted(o.name for o in copy.iterdir()) == sorted(URLs.MNIST_FILES)
        (copy/LABELS).chmod(0o644); (copy/LABELS).write_bytes(gzip.compress(_raw(LABELS)[:8]+bytes(60000)))
        with pytest.raises(ChecksumError): mnist_files(copy, mirrors=[CLOSED])   # still checked, from this process's memory
    finally: copy.chmod(0o755)

def test_read_only_shared_copy_works():
    "The shared data folder the team uses is read-only: verification must not need to write"
    before = sorted(o.name for o in SRC.iterdir())
    x,y,xv,yv = get_data(SRC.parent, mirrors=[CLOSED])
    assert x.shape == (50000, 784) and yv.shape == (10000,)
    if not SRC.stat().st_mode & 0o222: assert sorted(o.name for o in SRC.iterdir()) == before   # no stamp written

def _pkl(path, parts, protocol=2):
    with gzip.open(path, 'wb') as f: pickle.dump(parts, f, protocol=protocol)

def test_bad_course_pickles(tmp_path):
    x = np.random.rand(6, 784).astype(np.float32); y = np.arange(6) % 10
    good = ((x, y), (x[:2], y[:2]), (x[:2], y[:2]))
    _pkl(tmp_path/'mnist.pkl.gz', good); assert get_data(tmp_path)[0].shape == (6, 784)
    for what,parts in {'labels out of range': ((x, y+10), good[1], good[2]), 'wrong width': ((x[:, :700], y), good[1], good[2]),
                       'lengths differ': ((x, y[:3]), good[1], good[2]), 'pixels 0-255': ((x*255, y), good[1], good[2]),
                       'not three pairs': (good[0],)}.items():
        _pkl(tmp_path/'mnist.pkl.gz', parts)
        with pytest.raises(CorruptFileError, match='mnist.pkl.gz'): get_data(tmp_path)
    data = (tmp_path/'mnist.pkl.gz').read_bytes()
    (tmp_path/'mnist.pkl.gz').write_bytes(data[:len(data)//2])
    with pytest.raises(CorruptFileError, match='mnist.pkl.gz'): get_data(tmp_path)
