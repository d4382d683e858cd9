"Every norm layer the 07 lesson teaches gives the same outputs, gradients and buffers under torch.compile as in eager mode"
import copy
import pytest, torch
import exp.nb_07 as _exp
globals().update({k: v for k, v in vars(_exp).items() if not k.startswith(('_', 'test'))})

LAYERS = {'BatchNorm': lambda: BatchNorm(4), 'LayerNorm': lambda: LayerNorm(), 'InstanceNorm': lambda: InstanceNorm(4),
          'GroupNorm': lambda: GroupNorm(2, 4), 'RunningBatchNorm': lambda: RunningBatchNorm(4)}

@pytest.mark.parametrize('name', LAYERS)
def test_compiled_layer_matches_eager(name):
    torch._dynamo.reset()
    torch.manual_seed(0)
    eager = LAYERS[name]()
    with torch.no_grad():                                       # parameters away from 1 and 0, so their gradients matter
        for p in eager.parameters(): p.add_(torch.randn_like(p)*0.3)
    compiled_mod = copy.deepcopy(eager)
    compiled = torch.compile(compiled_mod, backend='aot_eager')
    for step in range(4):
        x = (torch.randn(6, 4, 5, 5)*(step+1) + step).requires_grad_()
        xc = x.detach().clone().requires_grad_()
        g = torch.randn(6, 4, 5, 5)
        out, outc = eager(x), compiled(xc)
        out.backward(g); outc.backward(g)
        torch.testing.assert_close(outc, out, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(xc.grad, x.grad, rtol=1e-4, atol=1e-5)
        for (n, p), pc in zip(eager.named_parameters(), compiled_mod.parameters()):
            torch.testing.assert_close(pc.grad, p.grad, rtol=1e-4, atol=1e-5, msg=f'{name}.{n} at step {step}')
        for (n, b), bc in zip(eager.named_buffers(), compiled_mod.buffers()):
            torch.testing.assert_close(bc, b, rtol=1e-5, atol=1e-6, msg=f'buffer {name}.{n} at step {step}')
    eager.eval(); compiled_mod.eval()
    x = torch.randn(6, 4, 5, 5)
    torch.testing.assert_close(compiled(x), eager(x), rtol=1e-5, atol=1e-5)
