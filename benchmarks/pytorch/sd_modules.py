"""Compact PyTorch re-implementations of diffusers' UNet2DConditionModel (SD 1.x/2.x subset) and transformers'
CLIPTextModel, for timing only (diffusers and transformers are not installed here).

Module and parameter names follow diffusers 0.25 / transformers 4.33 (`down_blocks.0.resnets.0.conv1.weight`,
`text_model.encoder.layers.0.self_attn.q_proj.weight`, ...), so the state-dict keys and shapes can be compared with
the TypeScript models' `expectedWeightShapes` (see `keys_digest`). The forward passes do the same work as the
originals with the default attention processor of torch < 2 (baddbmm + softmax + bmm): GroupNorm, SiLU, 3x3 convs,
sinusoidal time embedding, self- and cross-attention, GEGLU feed-forward, nearest x2 upsampling, stride-2 convs.

Supported config subset: the one `@erase/sd` supports (no class embeddings, `resnet_time_scale_shift` default,
`num_attention_heads` null -> `attention_head_dim` is the head count, one cross-attention width).
"""
import hashlib
import math

import torch
import torch.nn.functional as F
from torch import nn


def per_block(value, n):
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps, scale=1.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.scale = scale

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        shortcut = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return (shortcut + h) / self.scale


class Attention(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])

    def split(self, x):
        b, t, c = x.shape
        return x.reshape(b, t, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, t, c // self.heads)

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, c = x.shape
        q, k, v = self.split(self.to_q(x)), self.split(self.to_k(context)), self.split(self.to_v(context))
        empty = torch.empty(q.shape[0], n, k.shape[1], dtype=q.dtype)
        probs = torch.baddbmm(empty, q, k.transpose(1, 2), beta=0, alpha=self.scale).softmax(dim=-1)
        out = torch.bmm(probs, v).reshape(b, self.heads, n, c // self.heads).permute(0, 2, 1, 3).reshape(b, n, c)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, h, context):
        h = self.attn1(self.norm1(h)) + h
        h = self.attn2(self.norm2(h), context) + h
        return self.ff(self.norm3(h)) + h


class Transformer2DModel(nn.Module):
    def __init__(self, dim, context_dim, heads, groups, layers, linear_projection):
        super().__init__()
        self.linear = linear_projection
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Linear(dim, dim) if linear_projection else nn.Conv2d(dim, dim, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(dim, context_dim, heads) for _ in range(layers)])
        self.proj_out = nn.Linear(dim, dim) if linear_projection else nn.Conv2d(dim, dim, 1)

    def forward(self, x, context):
        b, c, hh, ww = x.shape
        h = self.norm(x)
        if self.linear:
            h = self.proj_in(h.permute(0, 2, 3, 1).reshape(b, hh * ww, c))
        else:
            h = self.proj_in(h).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        for block in self.transformer_blocks:
            h = block(h, context)
        if self.linear:
            h = self.proj_out(h).reshape(b, hh, ww, c).permute(0, 3, 1, 2)
        else:
            h = self.proj_out(h.reshape(b, hh, ww, c).permute(0, 3, 1, 2))
        return h + x


class Downsample2D(nn.Module):
    def __init__(self, channels, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, size=None):
        x = F.interpolate(x, size=size, mode="nearest") if size is not None else F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x)


class Block(nn.Module):
    """A down, mid or up block (diffusers' CrossAttnDownBlock2D / DownBlock2D / UNetMidBlock2DCrossAttn / ...Up...)."""

    def __init__(self, resnets, attentions, downsampler=None, upsampler=None):
        super().__init__()
        if attentions:
            self.attentions = nn.ModuleList(attentions)
        self.resnets = nn.ModuleList(resnets)
        if downsampler is not None:
            self.downsamplers = nn.ModuleList([downsampler])
        if upsampler is not None:
            self.upsamplers = nn.ModuleList([upsampler])


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = list(cfg.get("block_out_channels", [320, 640, 1280, 1280]))
        n = len(ch)
        down_types = cfg.get("down_block_types", ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"])
        up_types = cfg.get("up_block_types", ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
        layers = per_block(cfg.get("layers_per_block", 2), n)
        heads = per_block(cfg.get("attention_head_dim", 8), n)
        tlayers = per_block(cfg.get("transformer_layers_per_block", 1), n)
        ctx = per_block(cfg.get("cross_attention_dim", 1280), n)[0]
        groups = cfg.get("norm_num_groups", 32)
        eps = cfg.get("norm_eps", 1e-5)
        linear = cfg.get("use_linear_projection", False)
        temb = cfg.get("time_embedding_dim") or 4 * ch[0]
        kin, kout = cfg.get("conv_in_kernel", 3), cfg.get("conv_out_kernel", 3)
        self.c0, self.flip, self.shift = ch[0], cfg.get("flip_sin_to_cos", True), cfg.get("freq_shift", 0)
        self.conv_in = nn.Conv2d(cfg.get("in_channels", 4), ch[0], kin, padding=(kin - 1) // 2)
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1 = nn.Linear(ch[0], temb)
        self.time_embedding.linear_2 = nn.Linear(temb, temb)

        def transformer(c, i):
            return Transformer2DModel(c, ctx, heads[i], groups, tlayers[i], linear)

        self.down_blocks = nn.ModuleList()
        out_c = ch[0]
        for i in range(n):
            in_c, out_c = out_c, ch[i]
            cross = down_types[i] == "CrossAttnDownBlock2D"
            res = [ResnetBlock2D(in_c if j == 0 else out_c, out_c, temb, groups, eps) for j in range(layers[i])]
            att = [transformer(out_c, i) for _ in range(layers[i])] if cross else []
            down = Downsample2D(out_c, cfg.get("downsample_padding", 1)) if i < n - 1 else None
            self.down_blocks.append(Block(res, att, downsampler=down))
        self.mid_block = None
        if cfg.get("mid_block_type", "UNetMidBlock2DCrossAttn") is not None:
            s = cfg.get("mid_block_scale_factor", 1)
            self.mid_block = Block([ResnetBlock2D(ch[-1], ch[-1], temb, groups, eps, s) for _ in range(2)], [transformer(ch[-1], n - 1)])
        self.up_blocks = nn.ModuleList()
        rev, rev_layers = ch[::-1], layers[::-1]
        up_out = rev[0]
        for i in range(n):
            prev, up_out = up_out, rev[i]
            in_c = rev[min(i + 1, n - 1)]
            count = rev_layers[i] + 1
            cross = up_types[i] == "CrossAttnUpBlock2D"
            res = [ResnetBlock2D((prev if j == 0 else up_out) + (in_c if j == count - 1 else up_out), up_out, temb, groups, eps) for j in range(count)]
            att = [transformer(up_out, n - 1 - i) for _ in range(count)] if cross else []
            self.up_blocks.append(Block(res, att, upsampler=Upsample2D(up_out) if i < n - 1 else None))
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg.get("out_channels", 4), kout, padding=(kout - 1) // 2)

    def time_proj(self, t):
        half = self.c0 // 2
        exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - self.shift)
        args = t.float()[:, None] * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
        return torch.cat([emb[:, half:], emb[:, :half]], dim=-1) if self.flip else emb

    def forward(self, x, t, context):
        te = self.time_embedding
        emb = te.linear_2(F.silu(te.linear_1(self.time_proj(t))))
        h = self.conv_in(x)
        skips = [h]
        for block in self.down_blocks:
            for j, resnet in enumerate(block.resnets):
                h = resnet(h, emb)
                if hasattr(block, "attentions"):
                    h = block.attentions[j](h, context)
                skips.append(h)
            if hasattr(block, "downsamplers"):
                h = block.downsamplers[0](h)
                skips.append(h)
        if self.mid_block is not None:
            h = self.mid_block.resnets[0](h, emb)
            h = self.mid_block.attentions[0](h, context)
            h = self.mid_block.resnets[1](h, emb)
        for block in self.up_blocks:
            for j, resnet in enumerate(block.resnets):
                h = resnet(torch.cat([h, skips.pop()], dim=1), emb)
                if hasattr(block, "attentions"):
                    h = block.attentions[j](h, context)
            if hasattr(block, "upsamplers"):
                h = block.upsamplers[0](h, size=tuple(skips[-1].shape[2:]) if skips else None)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class CLIPAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.k_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.q_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x, mask):
        b, t, c = x.shape
        h, d = self.heads, c // self.heads

        def split(y):
            return y.reshape(b, t, h, d).transpose(1, 2).reshape(b * h, t, d)

        q, k, v = split(self.q_proj(x) * self.scale), split(self.k_proj(x)), split(self.v_proj(x))
        probs = (torch.bmm(q, k.transpose(1, 2)) + mask).softmax(dim=-1)
        return self.out_proj(torch.bmm(probs, v).reshape(b, h, t, d).transpose(1, 2).reshape(b, t, c))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, dim, heads, inner, act):
        super().__init__()
        self.self_attn = CLIPAttention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(dim, inner), nn.Linear(inner, dim)
        self.layer_norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.act = (lambda y: y * torch.sigmoid(1.702 * y)) if act == "quick_gelu" else F.gelu

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp.fc2(self.act(self.mlp.fc1(self.layer_norm2(x))))


class CLIPTextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg.get("hidden_size", 512)
        tm = nn.Module()
        tm.embeddings = nn.Module()
        tm.embeddings.token_embedding = nn.Embedding(cfg.get("vocab_size", 49408), d)
        tm.embeddings.position_embedding = nn.Embedding(cfg.get("max_position_embeddings", 77), d)
        tm.encoder = nn.Module()
        tm.encoder.layers = nn.ModuleList(
            [CLIPEncoderLayer(d, cfg.get("num_attention_heads", 8), cfg.get("intermediate_size", 2048), cfg.get("hidden_act", "quick_gelu")) for _ in range(cfg.get("num_hidden_layers", 12))]
        )
        tm.final_layer_norm = nn.LayerNorm(d, eps=cfg.get("layer_norm_eps", 1e-5))
        self.text_model = tm

    def forward(self, ids):
        tm = self.text_model
        t = ids.shape[1]
        h = tm.embeddings.token_embedding(ids) + tm.embeddings.position_embedding.weight[:t][None]
        mask = torch.full((t, t), torch.finfo(torch.float32).min).triu(1)
        for layer in tm.encoder.layers:
            h = layer(h, mask)
        return tm.final_layer_norm(h)


class LoRALinear(nn.Module):
    """y = base(x) + up(down(x)) (alpha = rank); diffusers' LoRACompatibleLinear naming (`lora_layer.down/up`)."""

    def __init__(self, base, rank):
        super().__init__()
        self.base = base
        self.lora_layer = nn.Module()
        self.lora_layer.down = nn.Linear(base.in_features, rank, bias=False)
        self.lora_layer.up = nn.Linear(rank, base.out_features, bias=False)
        nn.init.normal_(self.lora_layer.down.weight, std=1 / base.in_features ** 0.5)
        nn.init.zeros_(self.lora_layer.up.weight)

    def forward(self, x):
        return self.base(x) + self.lora_layer.up(self.lora_layer.down(x))


def attach_lora(model, suffixes, rank):
    """Freezes `model` and wraps every Linear whose name ends with one of `suffixes`; returns the LoRA parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and any(name.endswith(s) for s in suffixes)]
    params = []
    for name, module in targets:
        parent = model.get_submodule(name.rsplit(".", 1)[0])
        wrapped = LoRALinear(module, rank)
        setattr(parent, name.rsplit(".", 1)[1], wrapped)
        params += list(wrapped.lora_layer.parameters())
    return params


def keys_digest(model):
    """sha256 of the sorted `name:shape` lines of the model's parameters (PyTorch layout), and their count."""
    lines = sorted(f"{name}:{','.join(str(s) for s in p.shape)}" for name, p in model.named_parameters())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest(), sum(p.numel() for p in model.parameters())
