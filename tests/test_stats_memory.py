"""Recording activation statistics must not grow the process's memory batch after batch.

Run in a fresh process each, so that the heap starts clean: 12 hooks (a 12-layer CNN) record 150
batches of 512x16x7x7 activations, the pattern of a training run with `ActivationStats`. With one
tiny tensor per statistic (the mean, the std, the
histogram) the CPU's malloc heap fragmented and the resident size grew by about
an activation per hook call (over 1 GB here; 15 GB for 2 epochs of notebook 07a's deep CNN).
"""
import subprocess, sys, textwrap
import pytest

SCRIPT = textwrap.dedent('''
    import sys, torch
    from exp.nb_06 import append_stats, append_stats_hist
    from torch import nn
    def rss_mb(): return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) // 1024
    record = {'append_stats': append_stats, 'append_stats_hist': append_stats_hist}[sys.argv[1]]
    x = torch.randn(512, 16, 7, 7)
    hooks = [type('H', (), {})() for _ in range(12)]
    layer = nn.Identity()
    for _ in range(10):                                   # warm up: the allocator's first big blocks
        for h in hooks: record(h, layer, None, x*1.0)
    start = rss_mb()
    for _ in range(150):
        for h in hooks: record(h, layer, None, x*1.0)     # x*1.0: a fresh activation, as each batch makes
    assert all(len(h.stats[0]) == 160 for h in hooks)
    print(rss_mb() - start)
''')

@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc/self/status')
def test_recording_stats_keeps_memory_flat(hook='append_stats_hist'):
    out = subprocess.run([sys.executable, '-c', SCRIPT, hook], capture_output=True, text=True, check=True)
    growth = int(out.stdout.split()[-1])
    assert growth < 150, f'{hook}: resident memory grew by {growth} MB over 1,800 recorded activations'
