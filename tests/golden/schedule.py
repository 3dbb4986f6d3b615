"""Independent computation of the DDAEBM diffusion coefficients.

Written from docs/algorithm.md §1-§2 in the style of the reference
implementation's `get_sigma_schedule` / `Posterior_Coefficients`
(cumulative products over the betas without beta_0), with Python's math
module. tests/tests/coefficients.rs holds its output as golden values:
    python3 tests/golden/schedule.py
"""
import math


def schedule(kind, beta_min, beta_max, n):
    eps = 1e-3
    s = [k / n * (1 - eps) + eps for k in range(n + 1)]
    if kind == "vp":
        var = [1 - math.exp(-0.5 * x * x * (beta_max - beta_min) - x * beta_min) for x in s]
    else:
        var = [beta_min * (beta_max / beta_min) ** x for x in s]
    alpha_bars = [1 - v for v in var]
    betas = [var[0]] + [min(1 - alpha_bars[k] / alpha_bars[k - 1], 0.999) for k in range(1, n + 1)]
    a_s = [math.sqrt(1 - b) for b in betas]
    a_s_cum = []
    p = 1.0
    for a in a_s:
        p *= a
        a_s_cum.append(p)
    # Posterior_Coefficients: betas[1:], alphas_cumprod, alphas_cumprod_prev = [1, ...]
    b = betas[1:]
    alphas = [1 - x for x in b]
    cum, p = [], 1.0
    for a in alphas:
        p *= a
        cum.append(p)
    prev = [1.0] + cum[:-1]
    post_var = [b[t] * (1 - prev[t]) / (1 - cum[t]) for t in range(n)]
    coef1 = [b[t] * math.sqrt(prev[t]) / (1 - cum[t]) for t in range(n)]
    coef2 = [(1 - prev[t]) * math.sqrt(alphas[t]) / (1 - cum[t]) for t in range(n)]
    return dict(a=a_s, a_bar=a_s_cum, coef1=coef1, coef2=coef2, posterior_var=post_var)


if __name__ == "__main__":
    for kind, lo, hi, n in [("vp", 0.1, 20.0, 4), ("vp", 0.01, 0.1, 4), ("geometric", 0.01, 0.5, 4)]:
        print(f"// {kind} beta {lo}..{hi}, T = {n}")
        for k, v in schedule(kind, lo, hi, n).items():
            print(f"{k}: [{', '.join(repr(x) for x in v)}],")
