"""Synthetic telecom fault tickets, deterministic for a seed.

Why: the paper's Ericsson datasets are private. This first generator gives tickets with a root-cause
label (the RCA target) and an engineer's resolution note (the response-feedback target), a long-tailed
class balance and overlapping symptoms, so the pipeline runs on something ticket-shaped. It is simple
on purpose; its limits are in data/README.md.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from helpers.results import write_atomic

# root cause -> (domain, node types, typical alarms, description fragments, resolution fragments, weight)
TAXONOMY = {
    "mains power failure": dict(
        domain="power", nodes=["gNodeB", "eNodeB", "microwave link"], weight=10,
        alarms=["MAINS_FAIL", "BATTERY_DISCHARGE", "SITE_DOWN", "RECTIFIER_ALARM"],
        symptoms=["site went down after battery ran out", "on battery since {t} min, now dark",
                  "utility supply lost, rectifiers off", "whole site off air, no AC input"],
        fixes=["Utility restored supply; batteries recharged, site back on air.",
               "Dispatched generator to {site}; site carried on genset until grid returned."]),
    "fibre cut": dict(
        domain="transport", nodes=["router", "OLT", "gNodeB"], weight=8,
        alarms=["LOS", "LINK_DOWN", "SITE_DOWN", "BFD_DOWN"],
        symptoms=["loss of signal on uplink port", "backhaul down, several sites isolated",
                  "OTDR shows break {t} km from {site}", "link down both directions, no light"],
        fixes=["Field team spliced the cut fibre {t} km from {site}; link restored.",
               "Traffic rerouted over protection path; civil works repaired the duct."]),
    "microwave rain fade": dict(
        domain="transport", nodes=["microwave link"], weight=5,
        alarms=["RSL_LOW", "BER_HIGH", "LINK_DOWN", "MODULATION_DOWNSHIFT"],
        symptoms=["RSL dropped {t} dB during heavy rain", "adaptive modulation stepped down, errors",
                  "intermittent link flaps in storm", "BER high on MW hop, weather bad"],
        fixes=["Fade cleared when rain stopped; recommend higher fade margin on this hop.",
               "No hardware fault found; link recovered after the storm, ATPC reviewed."]),
    "hvac overheating": dict(
        domain="environment", nodes=["gNodeB", "router", "core function"], weight=4,
        alarms=["HIGH_TEMP", "FAN_FAIL", "BOARD_OVERTEMP", "CELL_DEGRADED"],
        symptoms=["cabinet temp {t} C and rising", "air con unit tripped, boards throttling",
                  "fan alarm then thermal shutdown of a board", "shelter hot, radios reducing power"],
        fixes=["HVAC unit reset and filter cleaned; temperature back to 24 C.",
               "Replaced failed fan tray; board temperatures normal."]),
    "hardware board failure": dict(
        domain="ran", nodes=["gNodeB", "eNodeB", "OLT"], weight=5,
        alarms=["BOARD_FAULT", "CELL_DOWN", "HW_FAILURE", "SFP_FAIL"],
        symptoms=["baseband board not responding", "RRU reports HW failure, cell down",
                  "board reset loop, cell {t} unavailable", "card failed self test"],
        fixes=["Replaced faulty baseband board at {site}; cells unlocked and carrying traffic.",
               "Swapped the failed RRU; VSWR and power checked OK."]),
    "software crash": dict(
        domain="software", nodes=["core function", "gNodeB", "router"], weight=3,
        alarms=["PROCESS_RESTART", "CORE_DUMP", "CELL_DOWN", "HEARTBEAT_LOST"],
        symptoms=["process restarted {t} times in an hour", "core dump after upgrade",
                  "node stopped answering heartbeats, then rebooted", "software watchdog fired"],
        fixes=["Rolled back to the previous software load; vendor ticket raised with the core dump.",
               "Applied the vendor hotfix; no restarts in 24 h."]),
    "configuration error": dict(
        domain="configuration", nodes=["router", "core function", "gNodeB"], weight=3,
        alarms=["BGP_DOWN", "CONFIG_CHANGE", "KPI_DEGRADED", "LINK_DOWN"],
        symptoms=["started right after change window CR-{t}", "wrong VLAN pushed, traffic blackholed",
                  "neighbour list wiped by bulk config", "peering down after policy update"],
        fixes=["Reverted the faulty change CR-{t}; traffic recovered.",
               "Corrected the parameter set and re-ran the config audit."]),
    "core congestion": dict(
        domain="core", nodes=["core function"], weight=2,
        alarms=["CPU_HIGH", "KPI_DEGRADED", "ATTACH_FAIL_HIGH", "HEARTBEAT_LOST"],
        symptoms=["attach success rate down to {t} %", "signalling storm, CPU at 95 %",
                  "session setup failures during event traffic", "AMF overload, throttling UEs"],
        fixes=["Scaled out the core function by two instances; KPIs back to normal.",
               "Enabled overload protection and rebalanced traffic across pools."]),
}
LABELS = list(TAXONOMY)
VENDORS = ["Ericsson", "Nokia", "Huawei", "ZTE", "Ciena", "Cisco"]
STYLES = ["terse", "verbose"]


def _site(rng: random.Random) -> str:
    return f"{rng.choice(['NRT', 'STH', 'GBG', 'MLM', 'UPS', 'LKP'])}{rng.randint(100, 999)}"


def make_ticket(rng: random.Random, index: int, start: datetime) -> dict:
    """One ticket: structured fields, free text, the root cause and the resolution note."""
    cause = rng.choices(LABELS, weights=[TAXONOMY[c]["weight"] for c in LABELS])[0]
    spec = TAXONOMY[cause]
    site, t = _site(rng), rng.randint(2, 40)
    # Two or three of the cause's alarms plus, half the time, one misleading alarm from another cause.
    alarms = rng.sample(spec["alarms"], rng.randint(2, 3))
    if rng.random() < 0.5:
        other = TAXONOMY[rng.choice([c for c in LABELS if c != cause])]
        alarms.insert(rng.randrange(len(alarms) + 1), rng.choice(other["alarms"]))
    opened = start + timedelta(minutes=rng.randint(0, 60 * 24 * 90))
    symptom = rng.choice(spec["symptoms"]).format(t=t, site=site)
    style = rng.choice(STYLES)
    node, vendor = rng.choice(spec["nodes"]), rng.choice(VENDORS)
    if style == "terse":
        description = f"{node} {site}: {symptom}. alarms {','.join(alarms)}"
    else:
        description = (f"NOC reports an issue on {node} at site {site} ({vendor}). "
                       f"Observed: {symptom}. Active alarms: {', '.join(alarms)}. Please investigate.")
    return {
        "ticket_id": f"TT-{index:06d}",
        "opened_at": opened.isoformat(timespec="minutes"),
        "domain": spec["domain"],
        "node_type": node,
        "vendor": vendor,
        "site": site,
        "alarms": alarms,
        "kpi": {"availability_pct": round(rng.uniform(0, 100), 1), "drop_rate_pct": round(rng.uniform(0, 8), 2)},
        "description": description,
        "root_cause": cause,
        "resolution": rng.choice(spec["fixes"]).format(t=t, site=site),
    }


def generate_tickets(n: int, seed: int) -> list[dict]:
    """n tickets, identical for the same seed."""
    if n < 1:
        raise ValueError(f"n_tickets must be >= 1, got {n}")
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    return [make_ticket(rng, i, start) for i in range(n)]


def split_tickets(tickets: list[dict], fractions=(0.6, 0.2, 0.2), seed: int = 0) -> dict[str, list[dict]]:
    """Stratified train/validation/test split; every class with >= 3 tickets lands in every split."""
    rng = random.Random(seed)
    by_class: dict[str, list[dict]] = {}
    for t in tickets:
        by_class.setdefault(t["root_cause"], []).append(t)
    splits = {"train": [], "validation": [], "test": []}
    for rows in by_class.values():
        rows = rows[:]
        rng.shuffle(rows)
        n_val = max(1, round(fractions[1] * len(rows))) if len(rows) >= 3 else 0
        n_test = max(1, round(fractions[2] * len(rows))) if len(rows) >= 3 else 0
        splits["validation"] += rows[:n_val]
        splits["test"] += rows[n_val:n_val + n_test]
        splits["train"] += rows[n_val + n_test:]
    for rows in splits.values():
        rows.sort(key=lambda r: r["ticket_id"])
    return splits


def ticket_text(ticket: dict) -> str:
    """What the model reads: the structured fields a NOC engineer sees, then the description."""
    return (f"Node: {ticket['node_type']} ({ticket['vendor']}), site {ticket['site']}\n"
            f"Alarms: {', '.join(ticket['alarms'])}\n"
            f"Description: {ticket['description']}")


def save_splits(splits: dict[str, list[dict]], folder: Path) -> dict[str, Path]:
    """Write one JSONL file per split and labels.json (the label set, in taxonomy order), each atomically."""
    present = {r["root_cause"] for rows in splits.values() for r in rows}
    labels = [c for c in LABELS if c in present] + sorted(present - set(LABELS))
    paths = {"labels": write_atomic(Path(folder) / "labels.json", json.dumps(labels, indent=1))}
    for name, rows in splits.items():
        paths[name] = write_atomic(Path(folder) / f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    return paths


def load_labels(folder: Path) -> list[str]:
    path = Path(folder) / "labels.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/01_data.ipynb for this profile first")
    return json.loads(path.read_text())


def load_split(folder: Path, name: str) -> list[dict]:
    path = Path(folder) / f"{name}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run notebooks/01_data.ipynb for this profile first")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
