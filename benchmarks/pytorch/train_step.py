#!/usr/bin/env python3
"""PyTorch side of `pnpm bench:train` (packages/sd/bench/train-step.ts): ms per training step
(forward + backward + AdamW) of the same networks, at the same shapes and thread count.

    python3 benchmarks/pytorch/train_step.py --case world-unet --config unet.json --threads 1 \
        --batch 32 --size 12 --tokens 16 [--context-dim 64] [--warmup 2] [--steps 10]

Cases (configs are diffusers/transformers config.json files, written by the TS bench):
  world-unet  full UNet2DConditionModel training: MSE(eps_hat(x, t, ctx), noise), every weight trained
  world-clip  full CLIPTextModel training: MSE(last_hidden_state(ids), target)
  lora        rank-1 LoRA on every attn2.to_k / attn2.to_v of a frozen UNet: the UNet loss above, LoRA weights trained
The step is `zero_grad(set_to_none)`, forward, `backward()`, `AdamW.step()` (lr 1e-3, weight decay 0.01) and a read of
the loss. Prints one JSON object on stdout: per-step times, the median split into forward / backward / optimizer,
parameter counts and a digest of the parameter names and shapes (to compare with the TS models).

Threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS are set before torch is imported, then
torch.set_num_threads(N). Debian's python3-torch links the system BLAS: with the reference libblas matmuls run at
~4 GFLOP/s; install libopenblas0-pthread (reported as `blas`).
"""
import argparse
import json
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--case", required=True, choices=["world-unet", "world-clip", "lora"])
parser.add_argument("--config", required=True, help="config.json of the network")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--size", type=int, default=12, help="latent side (UNet cases)")
parser.add_argument("--tokens", type=int, default=16, help="context / text length")
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--rank", type=int, default=1)
args = parser.parse_args()

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402  (after the thread variables)
import torch.nn.functional as F  # noqa: E402

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sd_modules import CLIPTextModel, UNet2DConditionModel, attach_lora, keys_digest  # noqa: E402


def blas_library():
    for link in ("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", "/etc/alternatives/libblas.so.3"):
        if os.path.exists(link):
            return os.path.realpath(link)
    return "unknown"


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.config) as f:
        cfg = json.load(f)
    b = args.batch
    if args.case == "world-clip":
        model = CLIPTextModel(cfg)
        digest, params = keys_digest(model)
        trainable = list(model.parameters())
        ids = torch.randint(0, cfg["vocab_size"], (b, args.tokens))
        target = torch.randn(b, args.tokens, cfg["hidden_size"])

        def forward():
            return F.mse_loss(model(ids), target)
    else:
        model = UNet2DConditionModel(cfg)
        digest, params = keys_digest(model)
        trainable = attach_lora(model, ["attn2.to_k", "attn2.to_v"], args.rank) if args.case == "lora" else list(model.parameters())
        ctx_dim = cfg["cross_attention_dim"] if not isinstance(cfg["cross_attention_dim"], list) else cfg["cross_attention_dim"][0]
        x = torch.randn(b, cfg.get("in_channels", 4), args.size, args.size)
        t = torch.randint(0, 1000, (b,))
        context = torch.randn(b, args.tokens, ctx_dim)
        noise = torch.randn(b, cfg.get("out_channels", 4), args.size, args.size)

        def forward():
            return F.mse_loss(model(x, t, context), noise)

    optimizer = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
    totals, forwards, backwards, updates = [], [], [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        value = float(loss)
        t3 = time.perf_counter()
        if step >= args.warmup:
            totals.append((t3 - t0) * 1e3)
            forwards.append((t1 - t0) * 1e3)
            backwards.append((t2 - t1) * 1e3)
            updates.append((t3 - t2) * 1e3)
    print(json.dumps({
        "case": args.case,
        "torch": torch.__version__,
        "blas": blas_library(),
        "threads": torch.get_num_threads(),
        "params": params,
        "trainableParams": sum(p.numel() for p in trainable),
        "keysDigest": digest,
        "stepMs": totals,
        "medianStepMs": statistics.median_high(totals),
        "forwardMs": statistics.median_high(forwards),
        "backwardMs": statistics.median_high(backwards),
        "optimizerMs": statistics.median_high(updates),
        "loss": value,
    }))


if __name__ == "__main__":
    main()
