"""The FLOP model of RCA scoring: useful FLOPs from the tokens helpers.scoring.score_labels processes."""
from __future__ import annotations


def scoring_flops(config, tokenizer, texts: list[str], labels: list[str], shots=None) -> dict:
    """Useful FLOPs of helpers.scoring.score_labels on these tickets, from the tokens it actually processes:
    2 x (block-linear weights) per token, 2 x hidden x vocab per position whose logits are computed, and
    4 x (heads x head_dim) per (query, visible key) pair for QK^T and AV. Padding is not counted."""
    from helpers import prompts, scoring

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    q_width, kv_width = config.num_attention_heads * head_dim, config.num_key_value_heads * head_dim
    per_layer = config.hidden_size * (2 * q_width + 2 * kv_width) + 3 * config.hidden_size * config.intermediate_size
    linear = config.num_hidden_layers * per_layer
    head = config.hidden_size * config.vocab_size
    label_ids = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
    prompts = [tokenizer(prompts.chat_prompt(tokenizer, t, labels, shots), add_special_tokens=False)["input_ids"]
               for t in texts]
    n_prefix = len(scoring.common_prefix(prompts))
    tail = sum(map(len, label_ids))
    tokens = n_prefix + sum(len(p) - n_prefix + tail for p in prompts)
    logit_rows = 1 + len(prompts) * (1 + sum(len(ids) - 1 for ids in label_ids))
    pairs = n_prefix * (n_prefix + 1) // 2  # causal prefix
    for p in prompts:
        s = len(p) - n_prefix
        pairs += s * n_prefix + s * (s + 1) // 2  # the ticket's tokens
        pairs += sum((n_prefix + s) * len(ids) + len(ids) * (len(ids) + 1) // 2 for ids in label_ids)
    attention = 4 * q_width * pairs * config.num_hidden_layers
    return {"flops": 2 * linear * tokens + 2 * head * logit_rows + attention, "tokens": tokens,
            "prefix_tokens": n_prefix, "linear_params": linear}
