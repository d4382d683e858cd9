"""Mixed precision (10c) on the CPU: a training epoch of the MNIST CNN with `MixedPrecision` (bfloat16, float16) and
with torch.autocast (bfloat16), each against the same epoch in float32.

    python bench/bench_fp16.py [--repeats 5]

`rows(repeats)` returns rows in bench/run.py's format: (name, ours seconds, reference seconds, target, ratio summary).
Ratios < 1 mean mixed precision is faster than float32. PyTorch's CPU kernels are fast in bfloat16 where the CPU has
AVX512-BF16/AMX (or at least AVX512), and slow in float16 on most CPUs: the float16 row says how slow."""
import sys
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
from exp.nb_10c import *
from run import paired_ratios, ratio_summary, run_alone, cnn_layers
from run import mnist_subset as _data, learner_epoch as _learner_epoch

def _plain_epoch(data, dtype=None):
    "One plain-loop epoch (training and validation), under torch.autocast(dtype) if `dtype`"
    set_seed(0)
    model = nn.Sequential(Lambda(mnist_resize), *cnn_layers(data))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ctx = lambda: torch.autocast('cpu', dtype=dtype, enabled=dtype is not None)
    def _inner():
        model.train()
        for xb,yb in data.train_dl:
            with ctx(): loss = F.cross_entropy(model(xb), yb)
            loss.backward(); opt.step(); opt.zero_grad()
        model.eval()
        with torch.no_grad(), ctx():
            for xb,yb in data.valid_dl: F.cross_entropy(model(xb), yb)
    return _inner

def rows(repeats, n_train=10240, n_train_fp16=2048):
    out = []
    pairs = [(f'MixedPrecision(dtype=torch.bfloat16) training epoch of the MNIST CNN ({n_train//1024}k images) vs float32',
              n_train, lambda d: _learner_epoch(d, [partial(MixedPrecision, dtype=torch.bfloat16)]), lambda d: _learner_epoch(d)),
             (f'MixedPrecision() (float16) training epoch of the MNIST CNN ({n_train_fp16//1024}k images) vs float32',
              n_train_fp16, lambda d: _learner_epoch(d, [MixedPrecision]), lambda d: _learner_epoch(d)),
             (f'torch.autocast(bfloat16) plain-loop training epoch of the MNIST CNN ({n_train//1024}k images) vs float32',
              n_train, lambda d: _plain_epoch(d, torch.bfloat16), lambda d: _plain_epoch(d))]
    for name,n,ours,ref in pairs:
        data = _data(n)
        f_ours,f_ref = ours(data),ref(data)
        f_ours(); f_ref()                                             # warm up
        t_ours,t_ref,ratios = paired_ratios(f_ours, f_ref, repeats)
        out.append((name, t_ours, t_ref, 'report', ratio_summary(ratios)))
    return out

if __name__ == '__main__': run_alone(rows)
