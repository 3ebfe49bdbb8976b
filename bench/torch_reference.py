#!/usr/bin/python3
"""PyTorch twin of catgan's `conv` and `pi-mnist` nets and training iteration, for speed.

Reference: ../shared/CONTRACT.md ("Architectures at 28x28x1", "One training iteration") and
src/nn/model.c (build_conv, build_pi, d_step, g_step); Springenberg 2016, eqs. (7)-(9).
Usage: /usr/bin/python3 bench/torch_reference.py --net conv --threads 1 --batch 100 --json
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import sys
import time

# libgomp reads its environment once, when torch loads it. Busy-waiting OpenMP threads fight
# OpenBLAS's pthreads for 2 cores (NOTES.md: 143 ms vs 48 ms per pi-mnist iteration), so the
# default is PyTorch's best setting; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    sys.stderr.write(
        "torch_reference.py: cannot import torch with %s (%s); install Debian's python3-torch "
        "(apt-get install python3-torch) and run it with /usr/bin/python3\n"
        % (sys.executable, e))
    sys.exit(3)

ZDIM = 128          # CG_ZDIM in include/catgan.h
LRELU = 0.1
NOISE_SIGMA = 0.3


def openblas_path():
    """The OpenBLAS library behind torch's libblas.so.3, or None for any other BLAS.

    Debian's torch calls whatever libblas.so.3 the alternatives system selects; OpenBLAS's
    liblapack (and with it libopenblas*.so) may be mapped beside Debian's reference libblas,
    so the answer comes from where libblas itself resolves.
    """
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # BLAS is loaded with torch; make sure
    maps = [l.split()[-1] for l in open("/proc/self/maps") if len(l.split()) >= 6]
    if not any("openblas" in os.path.realpath(m) for m in maps if "libblas.so" in m):
        return None
    return next((m for m in maps
                 if "openblas" in os.path.basename(m) and ".so" in m
                 and "libblas" not in m and "liblapack" not in m), None)


def set_threads(n):
    """Pins PyTorch's intra-op pool (oneDNN, ATen) and OpenBLAS to n threads.

    torch.set_num_threads does not reach Debian's OpenBLAS-pthread (NOTES.md), so it is called
    through ctypes on the very library torch loaded. Returns that library's path (None when
    torch's BLAS is not OpenBLAS: Debian's reference libblas, ~10x slower on dense layers,
    unless libopenblas0-pthread is installed) and the name of the kernels OpenBLAS chose.
    """
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)   # eager training never runs ops side by side
    except RuntimeError:
        pass
    path = openblas_path()
    core = None
    if path is not None:
        lib = ctypes.CDLL(path)
        lib.openblas_set_num_threads(ctypes.c_int(n))
        if hasattr(lib, "openblas_get_num_threads") and lib.openblas_get_num_threads() != n:
            raise RuntimeError("openblas_set_num_threads(%d) did not take in %s" % (n, path))
        if hasattr(lib, "openblas_get_corename"):
            # OPENBLAS_CORETYPE picks the kernels: Haswell's are AVX2 even on AVX-512 cores
            lib.openblas_get_corename.restype = ctypes.c_char_p
            core = lib.openblas_get_corename().decode()
    return path, core


class GaussianNoise(nn.Module):
    """x + sigma * N(0, 1) in training mode, identity otherwise (catgan's noise layer)."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training or self.sigma == 0:
            return x
        return x + self.sigma * torch.randn_like(x)


def lrelu():
    return nn.LeakyReLU(LRELU)


def conv(c, oc, k):
    return nn.Conv2d(c, oc, k, stride=1, padding=k // 2)   # "same" size, like conv_lrelu


def build_conv(k):
    """src/nn/model.c build_conv at 28x28x1 (two stride-2 stages)."""
    d = nn.Sequential(
        conv(1, 32, 5), lrelu(), nn.MaxPool2d(3, 2, 1),                   # 14x14
        conv(32, 64, 3), lrelu(), conv(64, 64, 3), lrelu(), nn.MaxPool2d(3, 2, 1),   # 7x7
        conv(64, 128, 3), lrelu(), conv(128, 10, 1), lrelu(),
        nn.Flatten(), nn.Linear(10 * 7 * 7, 128), lrelu(), nn.Linear(128, k))
    # catgan's BN after the dense layer is per feature (96*7*7 of them), before the reshape.
    g = nn.Sequential(
        nn.Linear(ZDIM, 96 * 7 * 7), nn.BatchNorm1d(96 * 7 * 7), lrelu(),
        nn.Unflatten(1, (96, 7, 7)),
        nn.Upsample(scale_factor=2, mode="nearest"), conv(96, 64, 5), nn.BatchNorm2d(64), lrelu(),
        nn.Upsample(scale_factor=2, mode="nearest"), conv(64, 64, 5), nn.BatchNorm2d(64), lrelu(),
        conv(64, 1, 5), nn.Sigmoid())
    return g, d


def build_pi(k):
    """src/nn/model.c build_pi: noise before every dense layer of D, BN + lrelu on hidden ones."""
    layers, width = [nn.Flatten()], 28 * 28
    for h in (1000, 500, 250, 250, 250):
        layers += [GaussianNoise(NOISE_SIGMA), nn.Linear(width, h), nn.BatchNorm1d(h), lrelu()]
        width = h
    layers += [GaussianNoise(NOISE_SIGMA), nn.Linear(width, k)]
    d = nn.Sequential(*layers)
    layers, width = [], ZDIM
    for h in (500, 500, 1000):
        layers += [nn.Linear(width, h), nn.BatchNorm1d(h), lrelu()]
        width = h
    layers += [nn.Linear(width, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))]
    return nn.Sequential(*layers), d


def he_init(net):
    """cg_net_init_params: He-normal on fan-in with the leaky-ReLU gain, zero biases; PyTorch's
    default init leaves p(y|x) uniform, a stationary point of every CatGAN entropy (NOTES.md)."""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, a=LRELU, mode="fan_in", nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)


def mean_entropy(logits):
    """E_x H[p(y|x)] through log-softmax."""
    logp = F.log_softmax(logits, dim=1)
    return -(logp.exp() * logp).sum(dim=1).mean()


def marginal_entropy(logits):
    """H[E_x p(y|x)], with log of the mean probability as logsumexp(log p) - log n."""
    logp = F.log_softmax(logits, dim=1)
    log_mean = torch.logsumexp(logp, dim=0) - math.log(logits.shape[0])
    return -(log_mean.exp() * log_mean).sum()


class Trainer:
    """One CatGAN iteration exactly as CONTRACT.md (unsupervised, --labels 0)."""

    def __init__(self, net, batch, k, seed, pool_size):
        torch.manual_seed(seed)
        self.g, self.d = build_conv(k) if net == "conv" else build_pi(k)
        he_init(self.g)
        he_init(self.d)
        self.g.train()
        self.d.train()
        self.d_params = list(self.d.parameters())
        adam = dict(lr=2e-4, betas=(0.5, 0.999), eps=1e-8)
        self.opt_g = torch.optim.Adam(self.g.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.d_params, **adam)
        self.batch = batch
        # Synthetic data of MNIST shape; a small pool keeps the data out of the memory figure.
        self.pool = torch.rand(pool_size, 1, 28, 28)

    def step(self):
        b = self.batch
        x_real = self.pool[torch.randint(self.pool.shape[0], (b,))]   # with replacement
        z = torch.rand(b, ZDIM) * 2 - 1                               # U(-1, 1)^128
        x_fake = self.g(z)
        # D step (eq. 7 as a minimisation); no gradient flows into G.
        self.opt_d.zero_grad(set_to_none=True)
        lr_ = self.d(x_real)
        lf = self.d(x_fake.detach())
        h_x, h_real, h_fake = marginal_entropy(lr_), mean_entropy(lr_), mean_entropy(lf)
        d_loss = -h_x + h_real - h_fake
        d_loss.backward()
        self.opt_d.step()
        # G step (eq. 9) on the same fake batch through the updated D. D's weights get no
        # gradient, so autograd skips their weight-gradient work, as catgan does.
        for p in self.d_params:
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        lf = self.d(x_fake)
        h_g, h_fake_g = marginal_entropy(lf), mean_entropy(lf)
        g_loss = -h_g + h_fake_g
        g_loss.backward()
        self.opt_g.step()
        for p in self.d_params:
            p.requires_grad_(True)
        return dict(d_loss=d_loss.item(), g_loss=g_loss.item(), h_x=h_x.item(),
                    h_real=h_real.item(), h_fake=h_fake.item(), h_g=h_g.item())


def check(net):
    """Self-test of this reference (--check): the entropies against float64 sums written out,
    the parameter counts against counts by hand from CONTRACT.md, and the iteration's rules
    (the D step leaves G alone; the G step gives D no gradient and leaves it unchanged)."""
    failures = []

    def expect(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    torch.manual_seed(7)
    z = torch.randn(13, 10) * 3                      # odd batch, spread-out logits
    p = [[math.exp(v) for v in row] for row in z.double().tolist()]
    p = [[v / sum(row) for v in row] for row in p]
    h_rows = [-sum(v * math.log(v) for v in row) for row in p]
    pbar = [sum(row[j] for row in p) / len(p) for j in range(10)]
    h_marg = -sum(v * math.log(v) for v in pbar)
    # float32 log-softmax of logits up to ~10: a few ulps of values near log 10 ~ 2.3
    tol = 1e-5
    expect(abs(mean_entropy(z).item() - sum(h_rows) / len(h_rows)) < tol, "mean entropy")
    expect(abs(marginal_entropy(z).item() - h_marg) < tol, "marginal entropy")

    # Counted by hand from the layer lists: weights + biases, BN gamma + beta.
    if net == "conv":
        want_g = (128 * 4704 + 4704 + 2 * 4704 + 96 * 64 * 25 + 64 + 2 * 64
                  + 64 * 64 * 25 + 64 + 2 * 64 + 64 * 25 + 1)
        want_d = (25 * 32 + 32 + 32 * 64 * 9 + 64 + 64 * 64 * 9 + 64 + 64 * 128 * 9 + 128
                  + 128 * 10 + 10 + 490 * 128 + 128 + 128 * 10 + 10)
    else:
        dims_g, dims_d = (128, 500, 500, 1000, 784), (784, 1000, 500, 250, 250, 250, 10)
        want_g = sum(a * b + b for a, b in zip(dims_g, dims_g[1:])) + 2 * (500 + 500 + 1000)
        want_d = sum(a * b + b for a, b in zip(dims_d, dims_d[1:])) + 2 * (1000 + 500 + 750)
    tr = Trainer(net, 6, 10, 1, pool_size=16)
    n_g = sum(q.numel() for q in tr.g.parameters())
    n_d = sum(q.numel() for q in tr.d.parameters())
    expect(n_g == want_g and n_d == want_d,
           "parameter counts G %d (want %d), D %d (want %d)" % (n_g, want_g, n_d, want_d))

    # He init: D's logits must differ across a batch at initialisation (NOTES.md).
    with torch.no_grad():
        spread = tr.d(tr.pool[:6]).std(dim=0).mean().item()
    expect(spread > 1e-2, "D's initial logits spread across the batch (std %.3g)" % spread)

    g0 = [q.detach().clone() for q in tr.g.parameters()]
    seen = {}
    step_g, step_d = tr.opt_g.step, tr.opt_d.step

    def opt_d_step():                              # inspect between the two steps
        step_d()
        seen["g_after_d"] = all(torch.equal(a, b) for a, b in zip(g0, tr.g.parameters()))
        seen["d_after_d"] = [q.detach().clone() for q in tr.d.parameters()]
        seen["dgrad_after_d"] = [q.grad.clone() for q in tr.d.parameters()]

    def opt_g_step():
        seen["dgrad_at_g"] = [q.grad for q in tr.d.parameters()]
        step_g()

    tr.opt_d.step, tr.opt_g.step = opt_d_step, opt_g_step
    losses = tr.step()
    expect(all(math.isfinite(v) for v in losses.values()), "finite losses %s" % losses)
    expect(seen["g_after_d"], "the D step leaves G's weights unchanged")
    # D's .grad still holds the D step's gradient; the G step must not have added to it.
    expect(all(torch.equal(a, b) for a, b in zip(seen["dgrad_after_d"], seen["dgrad_at_g"])),
           "the G step gives D no weight gradient")
    expect(all(torch.equal(a, b) for a, b in zip(seen["d_after_d"], tr.d.parameters())),
           "the G step leaves D's weights unchanged")
    expect(not all(torch.equal(a, b) for a, b in zip(g0, tr.g.parameters())),
           "the G step moves G's weights")
    return 1 if failures else 0


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", choices=("conv", "pi-mnist"), default="conv")
    p.add_argument("--threads", type=int, default=1, help="PyTorch and OpenBLAS threads")
    p.add_argument("--batch", type=int, default=100, help="real images per iteration")
    p.add_argument("--iters", type=int, default=None,
                   help="timed iterations per repeat (default: 10 conv, 100 pi-mnist)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations first")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", action="store_true",
                   help="also print PyTorch's per-operator CPU time over one repeat to stderr")
    p.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    p.add_argument("--blas", action="store_true",
                   help="print the OpenBLAS library and kernels torch's BLAS calls run on, "
                        "exit 1 when torch's BLAS is not OpenBLAS")
    p.add_argument("--check", action="store_true",
                   help="self-test the losses, the nets and the iteration's rules, then exit")
    a = p.parse_args(argv)
    if a.iters is None:
        a.iters = 10 if a.net == "conv" else 100
    for name in ("threads", "batch", "iters", "repeats"):
        if getattr(a, name) < 1:
            p.error("--%s=%d must be >= 1" % (name, getattr(a, name)))
    if a.warmup < 0 or a.classes < 2:
        p.error("--warmup must be >= 0 and --classes >= 2")
    # BatchNorm needs more than one value per channel in training mode.
    if a.batch < 2:
        p.error("--batch=%d must be >= 2" % a.batch)
    return a


def main(argv):
    a = parse_args(argv)
    blas, blas_core = set_threads(a.threads)
    if a.blas:
        print("%s (%s)" % (blas, blas_core) if blas else "not OpenBLAS")
        return 0 if blas else 1
    if a.check:
        return check(a.net)
    rss_import = rss_mib()
    tr = Trainer(a.net, a.batch, a.classes, a.seed, pool_size=1000)
    for _ in range(a.warmup):
        tr.step()
    rates = []
    last = None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.iters):
            last = tr.step()
        rates.append(a.iters * a.batch / (time.perf_counter() - t0))
    if not all(math.isfinite(v) for v in last.values()):
        sys.stderr.write("torch_reference.py: a loss is not finite: %s\n" % last)
        return 1
    if a.profile:
        with torch.autograd.profiler.profile() as prof:
            for _ in range(a.iters):
                tr.step()
        sys.stderr.write(prof.key_averages().table(sort_by="self_cpu_time_total",
                                                   row_limit=25) + "\n")
    ips = statistics.median(rates)
    out = dict(net=a.net, threads=a.threads, batch=a.batch, iters=a.iters, repeats=a.repeats,
               warmup=a.warmup, images_per_second=ips,
               seconds_per_iteration=a.batch / ips, repeats_images_per_second=rates,
               peak_rss_mib=rss_mib(), rss_after_import_mib=rss_import,
               torch=torch.__version__, openblas=blas, openblas_core=blas_core,
               omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
               mkldnn=torch.backends.mkldnn.is_available(), final=last)
    if a.json:
        print(json.dumps(out))
    else:
        print("torch %s %s: threads %d batch %d: %.1f images/s (median of %s), "
              "%.3f s/iteration, peak RSS %.0f MiB (%.0f after import)"
              % (out["torch"], a.net, a.threads, a.batch, ips,
                 ", ".join("%.1f" % r for r in rates), a.batch / ips, out["peak_rss_mib"],
                 rss_import))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
