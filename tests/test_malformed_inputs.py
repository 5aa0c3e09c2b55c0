"""Strict inputs: every malformed profile, parameter or dataset stops run_all before any notebook starts, with
one line (exit code 2) naming the problem and what is valid, and leaves no partial output anywhere."""
import importlib.util

import pytest

from helpers import grid, paths
from helpers.params import MIN_TICKETS, RULES, VARIANT_FIELDS, check_params, declared_default

spec = importlib.util.spec_from_file_location("run_all", paths.ROOT / "run_all.py")
run_all = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_all)

SMOKE = (paths.CONFIGS / "smoke.yaml").read_text()
GOOD_TICKETS = "".join(f"T{c[0]}{i},ticket {i} about the {c},{c}\n" for c in ("fibre cut", "mains power failure")
                       for i in range(3))
VARIANTS = "variants:\n  - {precision: fp32}\n"


def profile_text(extra: str = "", params: str = "") -> str:
    """A small valid profile, plus extra YAML (or a replaced params block)."""
    return (params or "params: {n_tickets: 120, n_eval: 0}\n") + extra


# (id, profile YAML (text or bytes), -p overrides, dataset file (name, bytes) or None, expected phrase)
CASES = [
    # profiles
    ("yaml syntax", "params: {n_eval: 3\n" + VARIANTS, [], None, "line 2: not valid YAML (expected ',' or '}'"),
    ("profile not utf-8", b"description: caf\xe9\n", [], None, "not valid UTF-8 (byte 0xe9)"),
    ("profile is a scalar", "just a sentence\n", [], None, "a profile is a mapping with keys"),
    ("unknown top-level key", profile_text("variant:\n  - {precision: bf16}\n"), [], None,
     "unknown key(s) variant; a profile is a mapping with keys compression_sweep, description, extends, finetune_energy, "
     "params, serve, stage2, variants"),
    ("variants not a list", profile_text("variants: {precision: fp32}\n"), [], None,
     "variants must be a non-empty list"),
    ("empty variants", profile_text("variants: []\n"), [], None, "variants must be a non-empty list"),
    ("variant not a mapping", profile_text("variants: [fp32]\n"), [], None,
     "variants entry 1: a variant is a mapping of precision, method, sparsity, pattern, finetune"),
    ("unknown variant key", profile_text("variants:\n  - {precison: bf16}\n"), [], None,
     "variants entry 1: unknown variant field(s) ['precison']; valid: precision, method"),
    ("unquoted 2:4", profile_text("variants:\n  - {method: wanda, sparsity: 0.5, pattern: 2:4}\n"), [], None,
     'write pattern: "2:4"'),
    ("finetune: no", profile_text("variants:\n  - {precision: fp32, finetune: no}\n"), [], None,
     "variant field finetune=False: expected text; YAML reads unquoted yes/no/on/off as true/false"),
    ("sparsity as text", profile_text("variants:\n  - {method: magnitude, sparsity: half}\n"), [], None,
     "variant field sparsity='half': expected a number"),
    ("duplicate variants", profile_text("variants:\n  - {precision: bf16}\n  - {precision: fp32}\n"
                                        "  - {precision: bf16}\n"), [], None,
     "variants entries 1 and 3 are the same variant (bf16)"),
    ("bad sweep precision", profile_text(VARIANTS + "compression_sweep:\n  - {precision: int3}\n"), [], None,
     "compression_sweep entry 1: unknown precision 'int3'; choose one of fp32, bf16"),
    ("unknown name in params", profile_text(VARIANTS, params="params: {n_evals: 3}\n"), [], None,
     "unknown parameter(s) n_evals; valid: baseline"),
    ("variant field in params", profile_text(VARIANTS, params="params: {precision: bf16}\n"), [], None,
     "parameter precision='bf16': belongs to variants"),
    ("1e-3 read as text", profile_text(VARIANTS, params="params: {learning_rate: 1e-3}\n"), [], None,
     "YAML reads 1e-3 as text: write it with a dot"),
    # -p parameters
    ("n_eval not an int", SMOKE, ["n_eval=abc"], None, "parameter n_eval='abc': expected an integer >= 0 (0: the whole"),
    ("n_eval below the classes", SMOKE, ["n_eval=5"], None,
     "parameter n_eval=5: below the 13 root causes of the synthetic test split, so some class could not be evaluated"),
    ("w out of range", SMOKE, ["w=1.5"], None, "parameter w=1.5: expected a number in [0, 1]"),
    ("shift not a bool", SMOKE, ["shift=maybe"], None, "parameter shift='maybe': expected true or false"),
    ("threads a bool", SMOKE, ["threads=true"], None, "parameter threads=True: expected an integer >= 1"),
    ("too few tickets", SMOKE, ["n_tickets=20"], None, f"parameter n_tickets=20: expected an integer >= {MIN_TICKETS}"),
    ("n_eval beyond test split", SMOKE, ["n_eval=500"], None,
     "parameter n_eval=500: the synthetic test split of n_tickets=120 holds 33 tickets; choose 0 (the whole split) or n_eval in [13, 33]"),
    ("label_noise 1", SMOKE, ["label_noise=1"], None, "parameter label_noise=1: expected a number in [0, 1)"),
    ("negative seed", SMOKE, ["seed=-1"], None, "parameter seed=-1: expected an integer in [0, 4294967295]"),
    ("max_steps negative", SMOKE, ["max_steps=-1"], None, "parameter max_steps=-1: expected an integer >= 0"),
    ("epochs 0", SMOKE, ["epochs=0"], None, "parameter epochs=0: expected a number in (0, 100]"),
    ("learning_rate 0", SMOKE, ["learning_rate=0"], None, "parameter learning_rate=0: expected a number in (0, 1]"),
    ("hub id as model_path", SMOKE, ["model_path=HuggingFaceTB/SmolLM2-135M-Instruct"], None,
     "looks like a Hugging Face hub id; the study runs offline and never downloads"),
    ("model folder without config", SMOKE, ["model_path={tmp}"], None, "folder has no config.json"),
    ("profile name escapes", SMOKE, ["profile=../elsewhere"], None,
     "parameter profile='../elsewhere': a profile name is a folder name"),
    ("-p value not YAML", SMOKE, ["columns={text: body"], None, "-p columns: '{text: body' is not valid YAML"),
    ("unknown column field", SMOKE, ["columns={txt: description}"], None,
     "unknown field(s) txt; map any of text, root_cause, ticket_id, resolution, split"),
    ("dataset not found", SMOKE, ["dataset_path={tmp}/missing.csv"], None, "file not found"),
    ("dataset .xlsx", SMOKE, [], ("tickets.xlsx", b"PK\x03\x04"),
     "unsupported file type '.xlsx'; use .csv, .jsonl, .parquet"),
    # datasets (run_all validates the whole file before any notebook starts)
    ("dataset missing column", SMOKE, [], ("t.csv", b"ticket_id,text,cause\n" + GOOD_TICKETS.encode()),
     "missing column(s) 'root_cause' (for root_cause); found: ticket_id, text, cause"),
    ("dataset mapped column missing", SMOKE, ["columns={text: description}"],
     ("t.csv", b"ticket_id,text,root_cause\n" + GOOD_TICKETS.encode()), "missing column(s) 'description' (for text)"),
    ("dataset empty", SMOKE, [], ("t.csv", b""), "malformed CSV"),
    ("dataset not utf-8", SMOKE, [], ("t.csv", b"ticket_id,text,root_cause\nT1,caf\xe9 down,fibre cut\n"),
     "line 2: not valid UTF-8 (byte 0xe9)"),
    ("dataset single class", SMOKE, [], ("t.csv", b"text,root_cause\n" + b"".join(
        b"site %d down,fibre cut\n" % i for i in range(9))), "only one root-cause class ('fibre cut')"),
    ("dataset class too small", SMOKE, [], ("t.csv", b"ticket_id,text,root_cause\n" + GOOD_TICKETS.encode()
                                           + b"R1,odd ticket,rare cause\n"), "class 'rare cause' has 1 ticket(s)"),
    ("dataset bad jsonl", SMOKE, [], ("t.jsonl", b'{"text": "a", "root_cause": "x"}\n{"text": "b", root_cause\n'),
     "line 2: not valid JSON"),
    ("dataset n_eval below its classes", SMOKE, ["n_eval=1"], ("t.csv", b"ticket_id,text,root_cause\n" + GOOD_TICKETS.encode()),
     "parameter n_eval=1: below the 2 root causes of the file's test split"),
    ("dataset class missing from test", SMOKE, [], ("t.csv", b"ticket_id,text,root_cause,split\n" + b"".join(
        b"%s%d,ticket %d,%s,%s\n" % (c[:1].encode(), i, i, c.encode(), s.encode()) for c in ("fibre cut", "mains failure")
        for i, s in enumerate(("train", "validation", "test" if c == "fibre cut" else "train")))),
     "label(s) 'mains failure' appear in train but not in test"),
    ("dataset empty text", SMOKE, [], ("t.csv", b"ticket_id,text,root_cause\n" + GOOD_TICKETS.encode()
                                      + b"T9,   ,fibre cut\n"), "row 7: empty text in column 'text'"),
]


def outputs(name: str) -> dict:
    """Every file under the profile's output folders (and their .previous copies), with size and mtime."""
    found = {}
    for folder in (paths.data_dir(name), paths.results_dir(name), paths.runs_dir(name), paths.figures_dir(name)):
        for root in (folder, folder.with_name(folder.name + ".previous")):
            found[str(root)] = root.exists()
            if root.is_dir():
                found.update({str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")})
    return found


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_fails_in_one_line_and_writes_nothing(tmp_path, capsys, case):
    label, profile, overrides, dataset, phrase = case
    name = f"pytest-bad-{CASES.index(case) + 1}"
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(profile if isinstance(profile, bytes) else profile.encode())
    argv = ["--profile", str(path)] + [a for o in overrides for a in ("-p", o.replace("{tmp}", str(tmp_path)))]
    if dataset:
        (tmp_path / dataset[0]).write_bytes(dataset[1])
        argv += ["-p", f"dataset_path={tmp_path / dataset[0]}"]
    before = outputs(name)

    assert run_all.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("run_all: ") and err.count("\n") == 1, err
    assert phrase in err, err
    assert outputs(name) == before  # no partial output: nothing created, moved or changed
    if dataset:
        assert (tmp_path / dataset[0]).read_bytes() == dataset[1]  # a user's file is only read


def test_at_least_twenty_malformed_inputs_across_profiles_parameters_and_datasets():
    assert len(CASES) >= 20 and len({c[0] for c in CASES}) == len(CASES)
    assert sum(c[2] == [] and c[3] is None for c in CASES) >= 5  # profiles
    assert sum(c[3] is not None for c in CASES) >= 5  # datasets


def test_every_declared_parameter_has_a_rule():
    declared = set().union(*(grid.declared_parameters(nb) for nb in grid.NOTEBOOKS_IN_ORDER))
    assert not declared - set(RULES), f"parameters without a rule in helpers/params.py: {sorted(declared - set(RULES))}"
    assert not set(RULES) - declared, f"rules for parameters no notebook declares: {sorted(set(RULES) - declared)}"


def test_notebook_defaults_pass_their_rules():
    for name in set(RULES) - set(VARIANT_FIELDS):
        check_params({name: declared_default(name)})


@pytest.mark.parametrize("profile", ["smoke", "default"])
def test_shipped_profiles_pass(profile):
    loaded = grid.load_profile(profile)
    check_params(loaded["params"], [v.name for v in loaded["variants"] + grid.served_variants(loaded)])


def test_valid_edge_values_pass(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    check_params({"w": 0, "learning_rate": 1, "label_noise": 0, "tickets_per_day": 2.5, "price_per_kwh": 0,
                  "n_tickets": MIN_TICKETS, "dataset_path": None, "columns": None, "model_path": str(model),
                  "seed": 2**32 - 1, "n_shots": 13})
    # with a user file the split sizes are only known once it is read: no synthetic-size check
    (tmp_path / "t.csv").write_text("text,root_cause\n")
    check_params({"dataset_path": str(tmp_path / "t.csv"), "columns": {"text": "description"}, "n_eval": 5000})


@pytest.mark.parametrize("params, phrase", [
    ({"w": float("nan")}, "parameter w=nan: expected a number in [0, 1]"),
    ({"n_eval": 2.0}, "parameter n_eval=2.0: expected an integer >= 0"),
    ({"n_eval": 12}, "parameter n_eval=12: below the 13 root causes"),
    ({"n_shots": 14}, "choose n_shots in [1, 13]"),
    ({"n_tickets": 600, "n_ppl": 123}, "synthetic validation split of n_tickets=600 holds 122 tickets"),
    ({"columns": {"text": ""}}, "column names must be non-empty strings"),
    ({"grid_country": " "}, "parameter grid_country=' ': must not be empty"),
])
def test_check_params_messages(params, phrase):
    with pytest.raises(ValueError) as info:
        check_params(params)
    assert phrase in str(info.value) and "\n" not in str(info.value)


def test_model_folder_needs_safetensors(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no \*\.safetensors weights"):
        check_params({"model_path": str(tmp_path)})


def test_baseline_must_be_an_evaluated_variant():
    check_params({}, ["bf16-lora", "bf16-lora@fp32"])  # the default: the fine-tuned model served at fp32
    with pytest.raises(ValueError, match="baseline='bf16-lora@fp32': not one of the profile's variants; choose one "
                                         "of bf16-lora"):
        check_params({}, ["bf16-lora"])
    check_params({"baseline": "bf16"}, ["bf16"])
