"tools/machine_spread.py compare: lists the numbers that moved between runs, and the cells that failed in one"
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parents[1]/'tools'))
from machine_spread import compare, _numbers

def nb(folder, *outputs):
    cells = [{'cell_type': 'markdown', 'source': ['# x']}]
    cells += [{'cell_type': 'code', 'source': ['f()'], 'outputs': [o]} for o in outputs]
    folder.mkdir(exist_ok=True); (folder/'n.ipynb').write_text(json.dumps({'cells': cells}))

def stream(t): return {'output_type': 'stream', 'text': [t]}

def test_numbers():
    assert _numbers('acc 0.9602, loss 2.19e+06, epoch 3, 1e-5') == [0.9602, 2.19e6, 1e-5]

def test_compare(tmp_path, capsys):
    nb(tmp_path/'a', stream('accuracy 0.9602 loss 0.1291\n'), stream('same 0.5\n'), stream('ok 1.0\n'))
    nb(tmp_path/'b', stream('accuracy 0.9628 loss 0.1291\n'), stream('same 0.5\n'),
       {'output_type': 'error', 'ename': 'AssertionError', 'evalue': '(0.0991, 395)', 'traceback': []})
    compare([tmp_path/'a', tmp_path/'b'])
    out = capsys.readouterr().out
    assert '[1] 0.9602 | 0.9628' in out and '0.1291' not in out       # only what moved
    assert '[2]' not in out                                            # an identical cell is not listed
    assert '[3] fails in b: ERROR AssertionError: (0.0991, 395)' in out
