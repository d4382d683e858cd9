"LSUV from a fresh process: both call forms of `lsuv_module` and `lsuv_init` need nothing but `exp.nb_07a`"
import subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).parents[1]

PRELUDE = """
from exp.nb_07a import *
torch.manual_seed(0)
def assert_unit(model, mods, xb):
    "every layer in `mods` outputs mean 0, std 1 on `xb`"
    for mean,std in output_stats(model, list(mods), xb): assert abs(mean) < 1e-3 and abs(std-1) < 1e-3, (mean, std)
"""

def run_py(code):
    "Run `code` after PRELUDE in a fresh Python process at the repo root; fail with its stderr unless it runs to the end"
    r = subprocess.run([sys.executable, '-c', PRELUDE + textwrap.dedent(code) + "\nprint('reached the end')"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith('reached the end'), r.stdout

def test_lsuv_init_fresh_process():
    "No global model, no helper defined in a notebook: the exported names are enough"
    run_py('''
        m = nn.Sequential(ConvLayer(1, 8), ConvLayer(8, 16))
        res = lsuv_init(m, torch.randn(64, 1, 28, 28))
        assert all(abs(a) < 1e-3 and abs(b-1) < 1e-3 for a,b in res), res
''')

def test_course_call_with_global_mdl():
    "The course's cells: `mdl` in the calling namespace, then `lsuv_module(m, xb)` for each ConvLayer"
    run_py('''
        mdl = nn.Sequential(ConvLayer(1, 8, 5), ConvLayer(8, 16), ConvLayer(16, 32), nn.AdaptiveAvgPool2d(1))
        xb = torch.randn(128, 1, 28, 28)
        mods = find_modules(mdl, lambda o: isinstance(o, ConvLayer))
        res = [lsuv_module(m, xb) for m in mods]
        assert len(res) == 3 and all(isinstance(r, tuple) and len(r) == 2 for r in res)
        assert_unit(mdl, mods, xb)
''')

def test_course_call_inside_function_and_explicit_form():
    "`lsuv_module(m, xb)` called from a function sees the module-level `mdl`; the explicit form needs no `mdl`"
    run_py('''
        xb = torch.randn(64, 1, 28, 28)
        mdl = nn.Sequential(ConvLayer(1, 8), ConvLayer(8, 8))
        def init_all(): return [lsuv_module(m, xb) for m in mdl]
        init_all()
        assert_unit(mdl, mdl, xb)
        other = nn.Sequential(ConvLayer(1, 8), ConvLayer(8, 8))   # not `mdl`: the explicit form
        for m in other: lsuv_module(other, m, xb)
        assert_unit(other, other, xb)
''')

def test_course_call_without_mdl():
    "No `mdl` holding the layer: the layer runs alone on `xb`; deeper in a model that is a clear error"
    run_py('''
        xb = torch.randn(64, 1, 28, 28)
        first = ConvLayer(1, 8)
        mean,std = lsuv_module(first, xb)
        assert abs(mean) < 1e-3 and abs(std-1) < 1e-3
        model = nn.Sequential(ConvLayer(1, 8), ConvLayer(8, 8))
        try: lsuv_module(model[1], xb); raise AssertionError('no LSUVError')
        except LSUVError as e: assert 'lsuv_module(model, m, xb)' in str(e)''')

def test_unused_layer():
    "A layer the forward never calls: lsuv_init warns and skips it; lsuv_module names it (no bare KeyError)"
    run_py('''
        import warnings
        class M(nn.Module):
            def __init__(self):
                super().__init__(); self.a,self.unused = ConvLayer(1, 8),ConvLayer(8, 8)
            def forward(self, x): return self.a(x)
        m,xb = M(),torch.randn(32, 1, 28, 28)
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter('always'); res = lsuv_init(m, xb)
        assert res[1] is None and len(ws) == 1 and "'unused'" in str(ws[0].message)
        try: lsuv_module(m, m.unused, xb); raise AssertionError('no LSUVError')
        except LSUVError as e: assert "'unused'" in str(e)''')

def test_lsuv_leaves_running_statistics_alone():
    "LSUV runs forward passes to measure the layers: BatchNorm's (and RunningBatchNorm's) running statistics must not move"
    run_py('''
        from exp.nb_07 import RunningBatchNorm
        m = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3), RunningBatchNorm(8))
        before = {k: v.clone() for k,v in m.named_buffers()}
        xb = torch.randn(64, 1, 12, 12)*3 + 1
        lsuv_init(m, xb)
        lsuv_module(m, m[3], xb)
        after = dict(m.named_buffers())
        assert set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before), [k for k in before if not torch.equal(after[k], before[k])]
        assert m.training
''')
