"""The DDAEBM training step in PyTorch, as the same-run baseline for `trainer fit`.

Issue 6 compares the trainer's iterations/s with the reference
implementation (PyTorch from Python, batch 200, 1 thread, ≈ 26 it/s when
it was measured). That number was taken at another time on a shared
machine; this script runs the same step (docs/algorithm.md §5, the networks of
§6 as `trainer/src/nets.rs` builds them, `torch.optim.Adam` with betas
(0, 0.9), R1 every step) so that `scripts/trainer-speed.sh` can time both
sides in one run and report a ratio.

Usage: python reference_step.py --iters 400 --threads 1
Prints one line: `reference it/s <value>` (iterations after a warm-up of 50).
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden"))
import schedule as golden  # noqa: E402


def time_embedding(t, dim=16):
    half = dim // 2
    w = torch.exp(-torch.arange(half, dtype=torch.float64) * math.log(10000.0) / (half - 1))
    a = t.to(torch.float64)[:, None] * w[None, :]
    return torch.cat([a.sin(), a.cos()], 1).float()


class Block(nn.Module):
    def __init__(self, d_in, d_out, bn, act):
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)
        self.bn = nn.BatchNorm1d(d_out) if bn else None
        self.act = nn.PReLU(init=0.25) if act else None

    def forward(self, x):
        h = self.lin(x)
        if self.bn is not None:
            h = self.bn(h)
        return self.act(h) if self.act is not None else h


class ToyNet(nn.Module):
    def __init__(self, d_in, d_out, bn, final_act, width=300, depth=2, steps=4):
        super().__init__()
        self.x_enc = nn.Sequential(Block(d_in, 16, bn, True), Block(16, 32, False, True))
        self.t_enc = nn.Sequential(Block(16, 16, False, True), Block(16, 32, False, True))
        layers, d = [], 64
        for _ in range(depth):
            layers.append(Block(d, width, bn, True))
            d = width
        layers.append(Block(d, d_out, False, final_act))
        self.trunk = nn.Sequential(*layers)
        self.register_buffer("emb", time_embedding(torch.arange(steps)))

    def forward(self, x, t):
        return self.trunk(torch.cat([self.x_enc(x), self.t_enc(self.emb[t])], 1))


class Encoder(nn.Module):
    def __init__(self, d, nz):
        super().__init__()
        self.net = ToyNet(2 * d, 16, True, True)
        self.mu = nn.Linear(16, nz)
        self.logvar = nn.Linear(16, nz)

    def forward(self, x_t, x_t1, t):
        h = self.net(torch.cat([x_t, x_t1], 1), t)
        return self.mu(h), self.logvar(h)


def schedule(steps=4, beta_min=0.1, beta_max=20.0):
    """The coefficients as tensors, from the project's independent Python
    computation (tests/golden/schedule.py, the trainer's convention)."""
    c = golden.schedule("vp", beta_min, beta_max, steps)
    f = lambda v: torch.tensor(v, dtype=torch.float32)
    return dict(
        a=f(c["a"]),
        sig=f([math.sqrt(1 - x * x) for x in c["a"]]),
        a_bar=f(c["a_bar"]),
        sig_bar=f([math.sqrt(1 - x * x) for x in c["a_bar"]]),
        var=f(c["posterior_var"]),
        c1=f(c["coef1"]),
        c2=f(c["coef2"]),
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--gamma", type=float, default=0.02)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    d, nz, steps, n = 2, 2, 4, args.batch
    sc = schedule(steps)
    f = ToyNet(d, 1, False, False)
    g = ToyNet(d + nz, d, True, False)
    q = Encoder(d, nz)
    opt_e = torch.optim.Adam(f.parameters(), lr=5e-4, betas=(0.0, 0.9))
    opt_g = torch.optim.Adam(list(g.parameters()) + list(q.parameters()), lr=5e-4, betas=(0.0, 0.9))
    centres = torch.tensor([(2 * i, 2 * j) for i in range(-2, 3) for j in range(-2, 3)], dtype=torch.float32)

    def col(v, idx):
        return v[idx][:, None]

    def log_transition(x_t, x_t1, t):
        return -((x_t1 - col(sc["a"], t + 1) * x_t) ** 2 / (2 * col(sc["sig"], t + 1) ** 2)).sum(1)

    def posterior_sample(x0, x_t1, t):
        mean = col(sc["c1"], t) * x0 + col(sc["c2"], t) * x_t1
        return mean + (t > 0).float()[:, None] * col(sc["var"], t).sqrt() * torch.randn_like(x0)

    def step():
        x0 = (centres[torch.randint(25, (n,))] + 0.1 * torch.randn(n, d)) / 2.828
        t = torch.randint(steps, (n,))
        x_t = col(sc["a_bar"], t) * x0 + col(sc["sig_bar"], t) * torch.randn_like(x0)
        x_t1 = col(sc["a"], t + 1) * x_t + col(sc["sig"], t + 1) * torch.randn_like(x0)
        # Energy update with the R1 penalty on the conditional log-density.
        x_r = x_t.detach().requires_grad_(True)
        f_real = f(x_r, t).squeeze(1)
        (grad,) = torch.autograd.grad((f_real + log_transition(x_r, x_t1, t)).sum(), x_r, create_graph=True)
        r1 = grad.pow(2).sum(1).mean()
        with torch.no_grad():
            x_fake = posterior_sample(g(torch.cat([x_t1, torch.randn(n, nz)], 1), t), x_t1, t)
        loss_e = f(x_fake, t).mean() - f_real.mean() + args.gamma / 2 * r1
        opt_e.zero_grad()
        loss_e.backward()
        opt_e.step()
        # Generator + encoder update, f frozen.
        for w in f.parameters():
            w.requires_grad_(False)
        z = torch.randn(n, nz)
        x_fake = posterior_sample(g(torch.cat([x_t1, z], 1), t), x_t1, t)
        e_f = (f(x_fake, t).squeeze(1) + log_transition(x_fake, x_t1, t)).mean()
        mu_f, lv_f = q(x_fake, x_t1, t)
        lat = 0.1 * (0.5 * (lv_f + (z - mu_f) ** 2 / (lv_f.exp() + 1e-6)).sum(1)).mean()
        mu, lv = q(x_t, x_t1, t)
        z_phi = mu + (0.5 * lv).exp() * torch.randn_like(mu)
        mean = col(sc["c1"], t) * g(torch.cat([x_t1, z_phi], 1), t) + col(sc["c2"], t) * x_t1
        var = col(sc["var"], t).clamp_min(1e-2)
        rec = (0.5 * ((x_t - mean) ** 2 / var + (2 * math.pi * var).log()).sum(1)).mean()
        kl = (-0.5 * (1 + lv - mu**2 - lv.exp()).sum(1)).mean()
        loss_g = -e_f + lat + rec + kl
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for w in f.parameters():
            w.requires_grad_(True)
        return loss_e.item() + loss_g.item()

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.iters):
        step()
    print(f"reference it/s {args.iters / (time.perf_counter() - t0):.2f}")


if __name__ == "__main__":
    main()
