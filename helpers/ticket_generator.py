"""Synthetic telecom fault tickets, as a network operations centre (NOC) writes them; deterministic per seed.

Why synthetic: the paper's datasets (Ericsson RCA and response feedback) are private. These tickets
behave like real ones where it matters for the study: a long-tailed mix of 13 root causes across RAN,
transport, core, power, environment, software and configuration; symptoms shared between causes (a
mains failure and a fibre cut both take a site down); misleading alarms; terse, verbose and
abbreviated writing with typos; an optional label-noise knob; and validation and test splits drawn from a
shifted "world" (unseen sites, unseen vendors, held-out phrasings), the one the model is deployed in. Each ticket carries the root cause (RCA
target) and the resolution note an engineer would write (response-feedback target).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Cause:
    domain: str
    nodes: tuple
    alarms: tuple  # alarms typical of this cause only
    shared: tuple  # symptom alarms other causes raise too
    phrases: tuple  # symptom phrases; the last third is held out for the shifted world (validation, test)
    fixes: tuple  # resolution-note templates
    kpi: dict  # KPI name -> (low, high) when this cause is active
    weight: int  # relative frequency (long tail)


TAXONOMY = {
    "mains power failure": Cause(
        "power", ("gNodeB", "eNodeB", "microwave link", "OLT"),
        ("MAINS_FAIL", "AC_INPUT_LOST", "GENSET_START_FAIL"), ("SITE_DOWN", "BATTERY_DISCHARGE"),
        ("site went down after the batteries ran flat", "on battery for {t} min then dark",
         "utility supply lost in the area", "no AC at the cabinet, rectifiers idle",
         "whole site off air after storm, grid outage reported", "power company confirms outage in {site} area"),
        ("Utility restored supply after {t} min; batteries recharged and {node} back on air.",
         "Dispatched a portable generator to {site}; {node} carried on genset until the grid returned.",
         "Grid outage confirmed by the power company; site recovered on its own when AC came back."),
        {"availability_pct": (0, 40), "battery_v": (42, 47)}, 20),
    "battery or rectifier failure": Cause(
        "power", ("gNodeB", "eNodeB", "router"),
        ("RECTIFIER_FAIL", "BATTERY_LOW_VOLTAGE", "DC_UNDERVOLTAGE"), ("SITE_DOWN", "BATTERY_DISCHARGE"),
        ("DC voltage dropping although AC is present", "rectifier module {t} failed, batteries draining",
         "site drops every night at peak load", "battery string swollen, voltage unstable",
         "mains fine but the site still browns out", "undervoltage alarm with healthy grid"),
        ("Replaced rectifier module {t} and the worn battery string at {site}; DC voltage stable at 53.5 V.",
         "Battery bank at {site} past end of life; swapped and load test passed."),
        {"availability_pct": (20, 80), "battery_v": (40, 46)}, 6),
    "fibre cut": Cause(
        "transport", ("router", "OLT", "gNodeB"),
        ("LOS", "OTDR_EVENT", "BFD_DOWN"), ("LINK_DOWN", "SITE_DOWN"),
        ("loss of signal on the uplink port", "backhaul down, {t} sites isolated",
         "no light received on both fibres", "excavator working near the duct",
         "OTDR trace shows a break {t} km out", "ring protection switched, one span dark"),
        ("Field team found the cut {t} km from {site} (road works) and spliced it; link restored.",
         "Traffic moved to the protection path; civil works repaired the duct and the span came back."),
        {"availability_pct": (0, 50), "rx_power_dbm": (-40, -35)}, 14),
    "microwave rain fade": Cause(
        "transport", ("microwave link",),
        ("MODULATION_DOWNSHIFT", "ATPC_MAX_POWER"), ("LINK_DOWN", "RSL_LOW", "BER_HIGH"),
        ("RSL dropped {t} dB during heavy rain", "adaptive modulation stepped down to QPSK",
         "link flapping while the storm passes", "errors only during the downpour",
         "hop degrades every afternoon thunderstorm", "weather radar shows a cell over the path"),
        ("Fade cleared when the rain stopped; no fault found. Recommend more fade margin on the {site} hop.",
         "Link recovered after the storm; raised a planning ticket to review the hop's availability target."),
        {"availability_pct": (60, 99), "rsl_dbm": (-85, -70)}, 8),
    "microwave antenna misalignment": Cause(
        "transport", ("microwave link",),
        ("XPD_LOW", "RSL_BELOW_PLANNED"), ("LINK_DOWN", "RSL_LOW", "BER_HIGH"),
        ("RSL {t} dB below planned since the windy night", "dish looks twisted on the mast",
         "cross-polar discrimination degraded", "constant low level in clear weather",
         "after tower works the hop never reached planned level", "signal low on both ends, sky is clear"),
        ("Rigger realigned the antenna at {site}; RSL back to planned level.",
         "Mount bolts had loosened in the wind; dish re-pointed and torqued."),
        {"availability_pct": (50, 95), "rsl_dbm": (-80, -68)}, 2),
    "hvac overheating": Cause(
        "environment", ("gNodeB", "router", "core function"),
        ("HVAC_FAIL", "FAN_FAIL", "DOOR_OPEN"), ("HIGH_TEMP", "BOARD_OVERTEMP", "CELL_DEGRADED"),
        ("cabinet temperature {t} C above normal", "air con unit tripped, boards throttling",
         "fans at full speed, shelter hot", "thermal shutdown of a board on a hot day",
         "cooling failed in the equipment room", "radios cut power to protect themselves from heat"),
        ("HVAC unit at {site} reset and filter cleaned; cabinet back to 24 C.",
         "Replaced the failed fan tray in the {node}; board temperatures normal."),
        {"temperature_c": (45, 70)}, 5),
    "hardware board failure": Cause(
        "ran", ("gNodeB", "eNodeB", "OLT"),
        ("BOARD_FAULT", "HW_FAILURE", "SFP_FAIL", "VSWR_HIGH"), ("CELL_DOWN", "BOARD_OVERTEMP"),
        ("baseband board not responding", "RRU reports a hardware failure",
         "board in a reset loop", "card failed its self test",
         "sector {t} dead after a power cycle", "optical module shows no transmit power"),
        ("Replaced the faulty baseband board on the {vendor} {node} at {site}; cells unlocked.",
         "Swapped the failed RRU on sector {t}; VSWR and output power checked OK."),
        {"availability_pct": (30, 90)}, 10),
    "external interference": Cause(
        "ran", ("gNodeB", "eNodeB"),
        ("UL_INTERFERENCE", "NOISE_RISE"), ("KPI_DEGRADED", "CELL_DEGRADED", "RSSI_HIGH"),
        ("uplink noise floor up {t} dB", "drops and poor throughput, no hardware alarm",
         "interference pattern across all PRBs", "complaints near the industrial park",
         "a neighbour's illegal repeater suspected", "noise rises in business hours only"),
        ("Spectrum scan found an illegal repeater near {site}; regulator informed and it was switched off.",
         "Interference traced to a faulty TV amplifier; owner replaced it and the noise floor returned to normal."),
        {"drop_rate_pct": (3, 9), "ul_noise_dbm": (-100, -85)}, 4),
    "gps sync loss": Cause(
        "ran", ("gNodeB", "eNodeB"),
        ("GPS_LOSS", "SYNC_LOST", "PTP_UNLOCKED"), ("CELL_DOWN", "KPI_DEGRADED"),
        ("clock unlocked, cells going out of service", "GPS antenna reports no satellites",
         "handover failures to neighbours, timing drift", "holdover expired after {t} h",
         "PTP grandmaster unreachable", "TDD cells muted to avoid interference"),
        ("Replaced the damaged GPS antenna cable at {site}; clock locked and cells back.",
         "Restored PTP path to the grandmaster; {node} resynchronised."),
        {"drop_rate_pct": (1, 6)}, 3),
    "software crash": Cause(
        "software", ("core function", "gNodeB", "router"),
        ("PROCESS_RESTART", "CORE_DUMP", "WATCHDOG_RESET"), ("CELL_DOWN", "HEARTBEAT_LOST"),
        ("process restarted {t} times in an hour", "core dump written after the upgrade",
         "node stopped answering heartbeats then rebooted", "software watchdog fired",
         "memory leak until the application died", "same crash on three nodes with the new release"),
        ("Rolled back to the previous software load on {node}; vendor case opened with the core dump.",
         "Applied the {vendor} hotfix; no restarts in 24 h."),
        {"cpu_pct": (60, 100)}, 4),
    "configuration error": Cause(
        "configuration", ("router", "core function", "gNodeB"),
        ("CONFIG_CHANGE", "BGP_DOWN", "VLAN_MISMATCH"), ("LINK_DOWN", "KPI_DEGRADED"),
        ("started right after change window CR-{t}", "wrong VLAN pushed, traffic blackholed",
         "neighbour list wiped by a bulk change", "peering down after a policy update",
         "audit shows parameter differs from the golden config", "only sites touched by last night's script affected"),
        ("Reverted change CR-{t}; traffic recovered. Added a pre-check to the change template.",
         "Corrected the parameter set on {node} and re-ran the configuration audit."),
        {"drop_rate_pct": (2, 8)}, 7),
    "core congestion": Cause(
        "core", ("core function",),
        ("CPU_HIGH", "ATTACH_FAIL_HIGH", "OVERLOAD_CONTROL"), ("KPI_DEGRADED", "HEARTBEAT_LOST"),
        ("attach success rate down to {t} %", "signalling storm, CPU at 95 %",
         "session setup failures during a stadium event", "AMF throttling UEs",
         "registration retries flooding the core", "paging failures at the evening peak"),
        ("Scaled the core function out by two instances; KPIs back to normal.",
         "Enabled overload protection and rebalanced traffic across the pool."),
        {"cpu_pct": (85, 100), "drop_rate_pct": (2, 7)}, 2),
    "certificate expiry": Cause(
        "software", ("core function", "router", "gNodeB"),
        ("CERT_EXPIRED", "TLS_HANDSHAKE_FAIL"), ("HEARTBEAT_LOST", "OAM_UNREACHABLE"),
        ("OAM connection refused since midnight", "TLS handshake failing towards the OSS",
         "node unmanageable but carrying traffic", "interface to the vendor manager down",
         "every node of one cluster lost management at 00:00", "security log shows an invalid certificate"),
        ("Renewed the expired certificate on {node}; OAM connection restored.",
         "Certificate chain updated on the cluster; automated renewal scheduled."),
        {"availability_pct": (90, 100)}, 1),
}
LABELS = list(TAXONOMY)
KPI_NORMAL = {"availability_pct": (97, 100), "battery_v": (52, 54.5), "rx_power_dbm": (-14, -6),
              "rsl_dbm": (-50, -38), "temperature_c": (18, 32), "drop_rate_pct": (0.1, 1.0),
              "ul_noise_dbm": (-120, -115), "cpu_pct": (15, 60)}
ABBREVIATIONS = {"site": "st", "down": "dn", "battery": "batt", "batteries": "batts", "temperature": "temp",
                 "microwave": "MW", "after": "aft", "hardware": "HW", "software": "SW", "failure": "fail",
                 "failed": "fld", "minutes": "min", "because": "bc", "restarted": "rstd", "with": "w/"}
NODE_SHORT = {"gNodeB": "gNB", "eNodeB": "eNB", "microwave link": "MW link", "router": "rtr",
              "core function": "core NF", "OLT": "OLT"}
WORLDS = {  # the shifted world (validation, test) has other sites, two vendors never seen in training, held-out phrasing
    "seen": {"sites": ("NRT", "STH", "GBG", "MLM", "UPS"), "vendors": ("Ericsson", "Nokia", "Huawei", "Cisco")},
    "shifted": {"sites": ("KRN", "VXO", "LLA"), "vendors": ("Ericsson", "Nokia", "ZTE", "Samsung")},
}
SPLIT_SHARES = {"train": 0.6, "validation": 0.2, "test": 0.2}
MIN_PER_SPLIT = 2  # every class appears at least this often in every generated split


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _write(text: str, style: str, rng: random.Random) -> str:
    """Apply a writing style: abbreviations and typos, as hurried NOC staff write."""
    words = text.split()
    if style == "abbreviated":
        words = [ABBREVIATIONS.get(w.lower(), w) for w in words]
    if style != "verbose" and rng.random() < 0.5:
        i = rng.randrange(len(words))
        words[i] = _typo(words[i], rng)
    return " ".join(words)


def _phrases(cause: Cause, world: str) -> tuple:
    held_out = max(1, len(cause.phrases) // 3)
    return cause.phrases[-held_out:] if world == "shifted" else cause.phrases[:-held_out]


def make_ticket(rng: random.Random, ticket_id: str, cause_name: str, world: str, opened: datetime) -> dict:
    """One ticket: structured fields, rendered text, the root cause and the resolution note."""
    cause = TAXONOMY[cause_name]
    places = WORLDS[world]
    site = f"{rng.choice(places['sites'])}{rng.randint(100, 999)}"
    vendor, node, t = rng.choice(places["vendors"]), rng.choice(cause.nodes), rng.randint(2, 40)
    own = rng.sample(cause.alarms, rng.randint(0, 2))  # sometimes only shared symptoms are visible
    alarms = own + rng.sample(cause.shared, rng.randint(1, len(cause.shared)))
    if rng.random() < 0.35:  # a misleading alarm from another cause
        other = TAXONOMY[rng.choice([c for c in LABELS if c != cause_name])]
        alarms.append(rng.choice(other.alarms + other.shared))
    rng.shuffle(alarms)
    alarms = list(dict.fromkeys(alarms))
    kpi = {name: round(rng.uniform(*cause.kpi.get(name, normal)), 1)
           for name, normal in rng.sample(sorted(KPI_NORMAL.items()), 3) + [
               (k, KPI_NORMAL[k]) for k in cause.kpi if rng.random() < 0.7]}
    style = rng.choice(("terse", "verbose", "abbreviated"))
    symptom = _write(rng.choice(_phrases(cause, world)).format(t=t, site=site), style, rng)
    if style == "verbose":
        description = (f"NOC reports a problem on the {vendor} {node} at site {site}. Observed: {symptom}. "
                       f"Active alarms: {', '.join(alarms)}. Please investigate and restore service.")
    else:
        description = f"{NODE_SHORT[node]} {site} {symptom} / {' '.join(alarms)}"
    text = (f"Node: {node} ({vendor}), site {site}\nAlarms: {', '.join(alarms)}\n"
            f"KPIs: {', '.join(f'{k}={v}' for k, v in kpi.items())}\nDescription: {description}")
    return {
        "ticket_id": ticket_id, "opened_at": opened.isoformat(timespec="minutes"), "domain": cause.domain,
        "node_type": node, "vendor": vendor, "site": site, "alarms": alarms, "kpi": kpi, "style": style,
        "description": description, "text": text, "root_cause": cause_name,
        "resolution": rng.choice(cause.fixes).format(t=t, site=site, node=node, vendor=vendor),
    }


def class_counts(n: int) -> dict[str, int]:
    """Long-tailed counts for n tickets, at least MIN_PER_SPLIT per class."""
    total = sum(c.weight for c in TAXONOMY.values())
    return {name: max(MIN_PER_SPLIT, round(n * c.weight / total)) for name, c in TAXONOMY.items()}


def generate_splits(n_tickets: int, seed: int, label_noise: float = 0.0, shift: bool = True) -> dict[str, list[dict]]:
    """Train/validation/test tickets, identical for the same arguments.

    Train comes from the "seen" world. With shift, validation and test come from the "shifted" one: the world the
    model is deployed in, where a team labels some of its new tickets to choose a model (validation) and never
    looks at the rest (test). Without a validation from that world, every choice (epochs, scoring rule) is tuned
    to the training world, which is not the one measured.
    label_noise replaces that fraction of train and validation labels with another class (test stays clean).
    Every class appears in every split, so the total can exceed n_tickets slightly for small n.
    """
    if n_tickets < 1:
        raise ValueError(f"n_tickets must be >= 1, got {n_tickets}")
    if not 0 <= label_noise < 1:
        raise ValueError(f"label_noise must be in [0, 1), got {label_noise}")
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    splits, index = {}, 0
    for split, share in SPLIT_SHARES.items():
        world = "shifted" if shift and split != "train" else "seen"
        causes = [c for c, k in class_counts(round(n_tickets * share)).items() for _ in range(k)]
        rng.shuffle(causes)
        rows = []
        for cause in causes:
            opened = start + timedelta(minutes=rng.randint(0, 60 * 24 * 90))
            row = make_ticket(rng, f"TT-{index:06d}", cause, world, opened)
            if split != "test" and rng.random() < label_noise:
                row["root_cause"] = rng.choice([c for c in LABELS if c != cause])
                row["label_noise"] = True
            rows.append(row)
            index += 1
        splits[split] = rows
    return splits
