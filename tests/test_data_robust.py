"Files already on disk are verified (issue 13): damaged MNIST files give an error naming the file, once-checked files are remembered"
import gzip, json, os, pickle, shutil, stat, subprocess, sys, time
from pathlib import Path
import numpy as np, pytest
from exp.download import URLs, CorruptFileError, ChecksumError, mnist_files, read_idx, get_data, verify_mnist, load_mnist_pkl, data_dir

SRC = data_dir()/'mnist'   # $EXP_DATA's copy, else the clone's data/
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
    # a fresh process (nothing in memory), offline: the stamp means no file is read and checked again
    code = ("import exp.download as d\n"
            "def no_check(p): raise AssertionError(f'checked again: {p}')\n"
            "d.check_mnist_file = no_check\n"
            f"d.mnist_files({str(copy)!r}, mirrors=['http://127.0.0.1:9/'])\n"
            f"x = d.get_data({str(copy.parent)!r}, mirrors=['http://127.0.0.1:9/'])\n"
            "print(tuple(x[0].shape))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0 and out.stdout.split('\n')[-2] == '(50000, 784)', out.stderr[-2000:]
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


# ---- issue 24: read-only folders, damaged or left-behind stamp files ----
import errno
import exp.download as dl

def test_read_only_folder_one_file_missing(copy):
    "get_data on a read-only copy with one file missing: the folder named, said to be read-only, and what to do"
    (copy/LABELS).unlink(); copy.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as e: get_data(copy.parent, mirrors=[CLOSED])
    finally: copy.chmod(0o755)
    msg = str(e.value)
    assert str(copy) in msg and 'read-only' in msg and LABELS in msg and 'EXP_DATA' in msg and '.part' not in msg, msg
    assert sorted(o.name for o in copy.iterdir()) == sorted(set(URLs.MNIST_FILES) - {LABELS})

def test_read_only_mount_one_file_missing(copy, monkeypatch):
    "The same on a read-only file system (EROFS when a file is created), where the folder's mode says writable"
    (copy/LABELS).unlink()
    real_open, real_mkdir = os.open, os.mkdir
    def ro(path): return str(path).startswith(str(copy))
    def _open(path, flags, *a, **k):
        if ro(path) and flags & os.O_CREAT: raise OSError(errno.EROFS, 'Read-only file system', str(path))
        return real_open(path, flags, *a, **k)
    def _mkdir(path, *a, **k):
        if ro(path): raise OSError(errno.EROFS, 'Read-only file system', str(path))
        return real_mkdir(path, *a, **k)
    monkeypatch.setattr(os, 'open', _open); monkeypatch.setattr(os, 'mkdir', _mkdir)
    with pytest.raises(PermissionError) as e: get_data(copy.parent, mirrors=[CLOSED])
    msg = str(e.value)
    assert str(copy) in msg and 'read-only' in msg and LABELS in msg and 'EXP_DATA' in msg and '.part' not in msg, msg

@pytest.mark.parametrize('damaged', ['[1, 2]', '"a string"', '7', '{"train-labels-idx1-ubyte.gz": "x"}', '{not json', ''])
def test_damaged_stamp_is_no_stamp(copy, damaged):
    "A stamp file damaged into anything (valid JSON of another shape included) means: check again, and rewrite it"
    (copy/'.exp_verified.json').write_text(damaged); dl._verified.clear()
    mnist_files(copy, mirrors=[CLOSED])
    assert sorted(json.loads((copy/'.exp_verified.json').read_text())) == sorted(URLs.MNIST_FILES)

def test_stamp_temp_left_by_killed_process_removed(copy):
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()
    left = copy/f'..exp_verified.json.{dl._HOST}-{dead.pid}-abcdef.tmp'; left.write_text('{"half": ')
    dl._verified.clear(); mnist_files(copy, mirrors=[CLOSED])
    assert sorted(o.name for o in copy.iterdir()) == sorted([*URLs.MNIST_FILES, '.exp_verified.json'])
