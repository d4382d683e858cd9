"Bad input is a clear error that names what is wrong, not a silent wrong result or an error from deep inside"
import math, warnings
import numpy as np
import PIL.Image
import pytest, torch
import exp.nb_10 as _exp
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

def test_group_norm_zero_groups():
    with pytest.raises(ValueError, match='num_groups=0 must be a positive int'): GroupNorm(0, 4)

def test_sched_exp_from_zero():
    with pytest.raises(ValueError, match=r'sched_exp\(0.0, 1.0\): an exponential schedule needs start and end > 0'): sched_exp(0., 1.)(0.5)
    assert sched_exp(1e-3, 1.)(1.) == pytest.approx(1.)

@pytest.mark.parametrize('xb, msg', [(torch.full((16, 1, 8, 8), float('nan')), 'NaN or infinite'),
                                     (torch.ones(16, 1, 8, 8), 'the batch is constant')])
def test_lsuv_bad_batches(xb, msg):
    m = nn.Sequential(ConvLayer(1, 4), ConvLayer(4, 4))
    with pytest.raises(ValueError, match=msg): lsuv_init(m, xb)
    with pytest.raises(ValueError, match=msg): lsuv_module(m, m[0], xb)

def test_lsuv_max_iter_zero():
    m = nn.Sequential(ConvLayer(1, 4))
    with pytest.raises(ValueError, match='max_iter=0 must be an int >= 1'): lsuv_init(m, torch.randn(8, 1, 8, 8), max_iter=0)

@pytest.mark.parametrize('size', [0, -1, (32, 0), (2.5, 3)])
def test_resize_fixed_bad_size(size):
    with pytest.raises(ValueError, match='ResizeFixed: size'): ResizeFixed(size)

def test_image_list_missing_folder_and_extensions(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a folder'): ImageList.from_files(tmp_path/'nope')
    PIL.Image.new('RGB', (4, 4)).save(tmp_path/'a.jpeg')
    with pytest.raises(ValueError, match=r"extensions start with a dot: '.jpeg', not 'jpeg'"): ImageList.from_files(tmp_path, extensions=['jpeg'])
    assert len(ImageList.from_files(tmp_path, extensions=['.jpeg'])) == 1

def test_decompression_bomb_names_the_file(tmp_path):
    PIL.Image.new('L', (300, 300)).save(tmp_path/'big.png')
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PIL.Image, 'MAX_IMAGE_PIXELS', 100)            # PIL refuses images of more than twice this
        with pytest.raises(ImageReadError, match='big.png'): ImageList([tmp_path/'big.png'], tmp_path)[0]

def test_splitter_returning_strings(tmp_path):
    items = [tmp_path/'train'/'a'/'1.png', tmp_path/'valid'/'a'/'2.png']
    with pytest.raises(TypeError, match=r"the splitter returned 'train' for .*1.png: it must return True"):
        split_by_func(items, lambda o: o.parent.parent.name)
    train, valid = split_by_func(items, lambda o: torch.tensor(o.parent.parent.name == 'valid'))
    assert (len(train), len(valid)) == (1, 1)

def test_labels_none_or_mixed():
    with pytest.raises(ValueError, match='a label is None'): CategoryProcessor()(['a', None, 'b'])
    with pytest.raises(TypeError, match=r'labels of several types \(int, str\)'): CategoryProcessor()(['a', 1, 'b'])
    assert CategoryProcessor()(['b', 'a', 'b']) == [1, 0, 1]
