"""The benchmark's pieces run on the tiny model and give complete, positive figures (no timing assertions)."""
import json
from pathlib import Path


from bench import flops, gpu_reference, hardware, metering, peers, render, run, sparse24_cuda, timing

ROOT = Path(__file__).resolve().parents[1]


def test_parse_label():
    labels = ["fibre cut", "mains power failure", "software crash"]
    assert peers.parse_label("Fibre cut.", labels) == "fibre cut"
    assert peers.parse_label("The root cause is a software crash after a fibre cut", labels) == "software crash"
    assert peers.parse_label("mains power failur", labels) == "mains power failure"
    assert peers.parse_label("no idea", labels) is None


def test_bench_tickets_come_from_every_class_not_the_first_rows():
    tickets = [{"root_cause": c, "i": i} for i, c in enumerate("aaaaabbc")]
    assert [t["root_cause"] for t in run.every_class(tickets, 4)] == ["a", "b", "c", "a"]
    assert run.every_class(tickets, None) == tickets


def test_gemm_peak_is_positive():
    for kind in ("fp32", "bf16", "int8"):
        got = hardware.gemm_peak(kind, tokens=32, hidden=64, intermediate=128, square=64, min_seconds=0.01)
        assert got["peak"] > 0 and len(got["shapes"]) == 4


def test_pieces_and_report_on_the_tiny_model(tiny_model, tokenizer, tmp_path):
    labels = ["fibre cut", "mains power failure", "software crash"]
    tickets = [{"text": f"ticket {i}: LOS on port {i}", "root_cause": labels[i % 3]} for i in range(6)]
    counted = flops.scoring_flops(tiny_model.config, tokenizer, [t["text"] for t in tickets], labels)
    assert counted["flops"] > 0 and counted["prefix_tokens"] > 0 and counted["tokens"] > counted["prefix_tokens"]
    scoring = run.bench_scoring(tiny_model, tokenizer, tickets, labels, tmp_path / "cc", chunks=2)
    assert scoring["tickets_per_s"] > 0 and scoring["flop_per_s"] > 0 and scoring["j_cpu_model"] > 0
    naive = peers.naive_peer(tiny_model, tokenizer, tickets[:2], labels, max_new_tokens=3)
    assert naive["tickets_per_s"] > 0 and 0 <= naive["macro_f1"] <= 1
    overhead = metering.meter_overhead(lambda: sum(range(10_000)), tmp_path / "cc", repeats=2)
    gemm = {k: {"peak": 1e9, "shapes": {"a": 1e9}} for k in ("fp32", "bf16", "int8")}
    variants = {name: {**scoring, "compute_path": "dense", "gemm": g} for name, g in (("fp32", "fp32"), ("bf16", "bf16"))}
    assert len(scoring["predictions"]) == 6 and set(scoring["predictions"]) <= set(labels)
    versus = {name: {"diff": 0.0, "diff_ci_low": -0.1, "diff_ci_high": 0.1, "verdict": "no significant difference"}
              for name in ("fp32", "bf16")}
    report = {"command": "python bench/run.py --quick", "machine": hardware.machine(), "n_tickets": 6, "chunks": 2,
              "roles": {"fp32": "fp32", "bf16": "bf16"}, "versus_reference": versus, "profile": "x", "n_classes": 3,
              "naive_max_new_tokens": 3, "gemm": gemm, "variants": variants, "naive": {"fp32": naive},
              "overhead": {**overhead, "work": "sum", "tracker_start_s": 1.0}, "max_other_load": 0.0,
              "profiles": [{"profile": "smoke", "wall_s": 80.0, "source": "test", "by_notebook": {"01_data": 5.0}},
                           timing.previous_profile("no-such-profile")], "notes": [],
              "lora": {"batch_size": 8, "seconds_per_step": 2.0, "tokens_per_s": 800.0, "flop_per_s": 3e8, "steps": 4,
                       "other_load": 0.2}}
    report["targets"] = render.targets(report)
    text = render.render(report)
    figures = [t["figure"] for t in report["targets"]]
    assert len(figures) == 8 and "metering overhead" in figures and "LoRA fine-tuning FLOP/s, bf16" in figures
    assert "| 8 | 2.00 | 800 | 0 | 30 % | 20% **perturbed** |" in text  # 3e8 / 1e9 of the bf16 peak; load above 10 %
    for section in ("## 1.", "## 2.", "## 2-3.", "## 4.", "## 5.", "## 6.", "## Targets", "modelled, not metered"):
        assert section in text
    assert "| fp32 | dense |" in text and "| bf16 | dense |" in text and "not run" in text

    report["profile"], report["finetune_floor"] = "default", {"cells": 2, "train_tokens": 1000, "seconds": 1234.4}
    default = next(t for t in render.targets(report) if t["figure"] == "run_all default wall time")  # not run here
    assert default["bound"].startswith("its fine-tuning alone (1,000 training tokens in 2 cells) would take 1234 s at "
                                     "the LoRA target of 25% of the bf16 peak;")


def test_finetune_floor_counts_the_training_tokens_of_every_finetune_record(monkeypatch):
    from helpers import results

    records = [{"phase": "finetune", "metrics": {"train_tokens": 300}}, {"phase": "inference", "metrics": {}},
               {"phase": "finetune", "metrics": {"train_tokens": 100}}]
    monkeypatch.setattr(results, "load_records", lambda profile: records if profile == "p" else [])
    assert timing.finetune_floor("p", flop_per_token=2e9, flop_per_s=1e11) == {"cells": 2, "train_tokens": 400,
                                                                               "seconds": 8.0}
    assert timing.finetune_floor("empty", 2e9, 1e11) is None


def test_sparse24_bench_says_na_without_cuda(tmp_path):
    out = tmp_path / "s24.json"
    assert sparse24_cuda.main(["--out", str(out)]) == 0
    assert json.loads(out.read_text())["result"].startswith("N/A: no CUDA device")


def test_published_gpu_run_readme_is_generated_from_its_records():
    """reference/gpu-smoke-h200/README.md is what bench/gpu_reference.py renders from the folder's records."""
    folder = ROOT / "reference" / "gpu-smoke-h200"
    text = gpu_reference.render(folder, (folder / "COMMIT").read_text().strip())
    assert text == (folder / "README.md").read_text()
    assert "NVIDIA H200" in text and "nvml" in json.loads(next((folder / "records").glob("06_*fp16-lora.json")).read_text())[
        "metrics"]["energy_method"]


def test_lora_throughput_on_the_tiny_model(tiny_model, tokenizer):
    import copy

    from bench import training

    examples = [{"prompt": [{"role": "user", "content": f"ticket {i}"}],
                 "completion": [{"role": "assistant", "content": "fibre cut"}]} for i in range(8)]
    got = training.lora_throughput(lambda: (copy.deepcopy(tiny_model), tokenizer), examples, batch_size=2, steps=3,
                                   lora_r=2, bf16=False)
    assert got["tokens"] > 0 and got["flops"] == 4 * training.non_embedding_params(tiny_model) * got["tokens"]
    assert got["seconds_per_step"] > 0 and got["steps"] == 3


def test_prefix_groups_spare_the_most_prefix_tokens():
    from bench.shared_prefix import prefix_groups

    rows = [[1, 2, 3, 4, 5], [1, 2, 7, 8], [5], [1, 2, 3, 4, 6], [1, 2, 7, 9]]
    assert sorted(prefix_groups(rows)) == [([0, 3], 4), ([1, 4], 3), ([2], 0)]  # spares 7, not 6 as one group
    assert prefix_groups([[1, 2], [1, 2]]) == [([0, 1], 1)]  # each row keeps a token of its own


def test_shared_prefixes_give_the_same_hidden_states_and_gradients(tiny_model, tokenizer):
    """The lever of bench/shared_prefix.py on a batch of RCA and note examples and a row sharing nothing: every real
    position's hidden state and every LoRA gradient as when each row computes its own prompt."""
    import torch
    from peft import LoraConfig, get_peft_model

    from bench.shared_prefix import shared_prefixes_once
    from helpers import finetune, ticket_generator

    rows = ticket_generator.generate_splits(16, seed=0)["train"]
    examples = finetune.rca_examples(rows, ticket_generator.LABELS)[:3] + finetune.response_examples(rows)[:2]
    texts = [tokenizer.apply_chat_template(e["prompt"] + e["completion"], tokenize=False) for e in examples]
    tokenizer.padding_side = "right"
    batch = tokenizer(texts + ["fibre cut"], padding=True, return_tensors="pt")
    model = get_peft_model(tiny_model, LoraConfig(r=2, target_modules=["q_proj", "v_proj", "down_proj"],
                                                  init_lora_weights=False)).train()
    decoder, real = model.get_base_model().base_model, batch["attention_mask"].bool()
    weights = torch.randn(*batch["input_ids"].shape, 64, generator=torch.Generator().manual_seed(0))

    def run():
        model.zero_grad()
        hidden = decoder(**batch).last_hidden_state
        (hidden * weights)[real].sum().backward()
        return hidden[real].detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    plain_hidden, plain_grads = run()
    with shared_prefixes_once(model) as count:
        hidden, grads = run()
    assert count["spared"] > 2 * 50  # two RCA rows and a note row sparing their prompt
    torch.testing.assert_close(hidden, plain_hidden, rtol=1e-4, atol=1e-5)
    for name, grad in grads.items():  # sums of many terms in another order: within 1e-4 of the gradient's scale
        torch.testing.assert_close(grad, plain_grads[name], rtol=1e-4, atol=1e-4 * float(plain_grads[name].abs().max()))
    assert "forward" not in vars(decoder)  # the plain forward is back
