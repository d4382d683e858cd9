"""Mixup (10b): what `MixUp` adds to a training epoch. A Learner epoch of the 07 CNN on MNIST with `MixUp(0.4)` against
the same epoch without it (same model, data, optimizer and seed), and the same with `LabelSmoothingCrossEntropy`
against `F.cross_entropy(label_smoothing=0.1)`.

    python bench/bench_mixup.py [--repeats 5]

`rows(repeats)` returns rows in bench/run.py's format: (name, ours seconds, reference seconds, target, ratio summary).
Ratios > 1 mean the epoch with mixup (or our loss) is slower."""
import sys
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
from exp.nb_10b import *
from run import paired_ratios, ratio_summary, run_alone, mnist_subset as _data, learner_epoch as _learner_epoch

def rows(repeats, n_train=10240):
    data = _data(n_train)
    out = []
    pairs = {'with MixUp(0.4) vs without': (_learner_epoch(data, [MixUp]), _learner_epoch(data)),
             'with LabelSmoothingCrossEntropy(0.1) vs F.cross_entropy(label_smoothing=0.1)':
                 (_learner_epoch(data, loss_func=LabelSmoothingCrossEntropy(0.1)),
                  _learner_epoch(data, loss_func=partial(F.cross_entropy, label_smoothing=0.1)))}
    for name,(f_ours,f_ref) in pairs.items():
        f_ours(); f_ref()                                                   # warm up: the first epoch allocates
        t_ours,t_ref,ratios = paired_ratios(f_ours, f_ref, repeats)
        out.append((f'Learner epoch of the 07 CNN ({n_train//1000}k MNIST images + 1024 valid, batch 512) {name}',
                    t_ours, t_ref, '<= 1.05', ratio_summary(ratios)))
    return out

if __name__ == '__main__': run_alone(rows)
