"""Small helpers behind the study's notebooks: one module per concern.

Importing this package sets the Hugging Face libraries to offline mode before any of them loads,
so nothing in the study can reach a model hub at run time. Heavy modules (torch, transformers)
are imported only by the submodules that need them.
"""
import os

for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[_var] = "1"  # unconditionally: an exported 0 must not switch the network back on
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# No progress bars in the executed notebooks (weight loading in transformers reads the hub's switch; trl's dataset
# preparation reads datasets'): they carry nothing for a reader. Warnings stay.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# Library noise that carries nothing for a reader of the executed notebooks (real warnings stay):
# - bitsandbytes warns at import that an optional CPU kernel package is missing, and on every int8 matmul on CPU;
# - tqdm warns that ipywidgets is absent (no progress bars are shown anyway);
# - transformers 5 warns that peft/trl call a renamed method (is_gradient_checkpointing);
# - torchao (which transformers imports with every model) fails to load its CUDA-only libraries on a CPU machine,
#   and registers two enums the way torch now calls deprecated.
import logging as _logging  # noqa: E402
import warnings as _warnings  # noqa: E402

_logging.getLogger("bitsandbytes").setLevel(_logging.ERROR)
_logging.getLogger("torchao").addFilter(lambda record: not record.getMessage().startswith("Failed to load"))
_logging.getLogger("torch.utils._pytree").addFilter(lambda record: "is an Enum subclass" not in record.getMessage())
_warnings.filterwarnings("ignore", message="IProgress not found")
_warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.* is deprecated")
