"""Peak RSS of 5 ResNet-20 train steps (batch 128, 3x32x32, 1 thread) with torch_anchor.py's model and SGD:
the PyTorch side of issue 14's memory target. Usage: /usr/bin/python3 bench/torch_rss.py [path to torch_anchor.py]"""
import resource, sys, torch, torch.nn.functional as F
src = open(sys.argv[1] if len(sys.argv) > 1 else '../shared/anchors/torch_anchor.py').read()
start = src.index('class Block'); end = src.index('def train_step_rate')
torch.set_num_threads(1)
ns = {'torch': torch, 'nn': torch.nn, 'F': F}
exec(src[start:end], ns)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
model = ns['ResNet'](20, 3)
x = torch.rand(128, 3, 32, 32); y = torch.randint(0, 10, (128,))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
for _ in range(5):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
print(f"after import {base/1024:.0f} MiB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
