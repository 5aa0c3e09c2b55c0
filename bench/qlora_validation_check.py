"""Does the per-epoch validation pass disturb nf4 QLoRA training? The same short fine-tune (48 RCA examples, 2 epochs,
batch 8, peak lr 2e-3, seed 0) with and without validation after each epoch; prints both loss curves. With
helpers.finetune's fix they are identical; before it, the loss jumped after the first validation (0.69 -> 20).

    python bench/qlora_validation_check.py      # about 3 minutes on 2 cores; run it alone
"""
import tempfile
from pathlib import Path

from helpers import finetune, models, ticket_generator

if __name__ == "__main__":
    models.set_runtime(2, 0)
    splits = ticket_generator.generate_splits(600, 0, label_noise=0.05, shift=True)
    examples = finetune.rca_examples(splits["train"][:48], ticket_generator.LABELS)
    for validate in (True, False):
        model, tokenizer = models.load_model("default", "nf4")
        with tempfile.TemporaryDirectory() as folder:
            _, log = finetune.lora_finetune(model, tokenizer, examples, Path(folder) / "adapter", epochs=2, batch_size=8,
                                            learning_rate=2e-3, seed=0, lora_r=16, bf16=True, labels=ticket_generator.LABELS,
                                            validation=splits["validation"][:16] if validate else None)
        print("with validation:" if validate else "without validation:", [round(x, 2) for x in log["loss_curve"]])
