#!/usr/bin/env python3
"""Chart how each state keeps its duties, from a running normledger node.

    python3 examples/compliance_chart.py compliance.png [--node URL] [--height H] [--all-members]

Reads every state member's compliance (GET /v1/compliance/{member}, all at
one height) into a pandas DataFrame, prints it, and writes a PNG bar chart:
the duties each state owes, stacked by status (open, met, met late,
overdue, waived), with its on-time rate. --all-members charts every
member, not only the states. The node is --node, else $NORMLEDGER_URL, else
http://127.0.0.1:1317 (where `normledger dev` serves, seeded with the
example records).

Needs pandas and matplotlib (Debian: python3-pandas python3-matplotlib);
the normledger package itself needs neither. The figures are the node's
word, not verified: the ledger's proofs cover the obligations they rest on,
not these sums.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

try:
    import normledger  # installed (pip install client/python)
except ImportError:  # run from a checkout
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    import normledger

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

STATUSES = ["open", "met", "met_late", "overdue", "waived"]
COLOURS = {"open": "#4c78a8", "met": "#54a24b", "met_late": "#eeca3b", "overdue": "#e45756", "waived": "#9d9d9d"}


def short(enum_name: str, prefix: str) -> str:
    return enum_name[len(prefix):].lower() if enum_name.startswith(prefix) else enum_name.lower()


def compliance_frame(client: normledger.Client, *, height=None, all_members=False) -> pd.DataFrame:
    """One row per member: its duties by status, the on-time rate, the
    overdue count, and the height the figures were read at."""
    members = {m["id"]: m for m in client.members(height=height).items}
    rows = []
    for c in client.iter_compliance(member_class=None if all_members else "state", height=height):
        m = members.get(c["member"], {})
        row = {
            "member": c["member"],
            "name": m.get("name", c["member"]),
            "country": m.get("countryCode", ""),
            "class": short(m.get("class", "MEMBER_CLASS_UNSPECIFIED"), "MEMBER_CLASS_"),
            "height": c["height"],
        }
        # proto3 JSON omits zero counts: a status without "count" owes none.
        by_status = {short(s["status"], "OBLIGATION_STATUS_"): s.get("count", 0) for s in c.get("obligations", [])}
        for st in STATUSES:
            row[st] = int(by_status.get(st, 0))
        row["total"] = sum(row[st] for st in STATUSES)
        on_time = c.get("onTime", {})
        row["on_time_pct"] = on_time.get("basisPoints", 0) / 100 if on_time.get("denominator", 0) else float("nan")
        row["exercise"] = sum(s.get("count", 0) for s in c.get("exerciseObligations", []))
        rows.append(row)
    cols = ["member", "name", "country", "class", "height", *STATUSES, "total", "on_time_pct", "exercise"]
    return pd.DataFrame(rows, columns=cols).set_index("member")


def chart(df: pd.DataFrame, out: str, title: str) -> None:
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(df) + 2), 4.8), dpi=100)
    labels = [f"{name}\n({mid})" for mid, name in zip(df.index, df["name"])]
    bottom = [0] * len(df)
    for st in STATUSES:
        vals = df[st].tolist()
        ax.bar(labels, vals, bottom=bottom, color=COLOURS[st], label=st.replace("_", " "), edgecolor="white", width=0.6)
        bottom = [b + v for b, v in zip(bottom, vals)]
    top = max(bottom) if bottom else 0
    for x, (total, pct) in enumerate(zip(df["total"], df["on_time_pct"])):
        note = f"{total} duties" + ("" if pd.isna(pct) else f"\n{pct:.0f}% on time")
        ax.annotate(note, (x, total), textcoords="offset points", xytext=(0, 4), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.3 + 1)
    ax.set_ylabel("obligations owed (real duties, not exercises)")
    ax.set_title(title)
    ax.legend(title="status", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(out, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", help="PNG file to write")
    p.add_argument("--node", default=os.environ.get("NORMLEDGER_URL") or normledger.DEFAULT_URL, help="REST URL of the node")
    p.add_argument("--height", type=int, default=None, help="state height to read at (default: the newest attested)")
    p.add_argument("--all-members", action="store_true", help="every member, not only the states")
    a = p.parse_args(argv)

    client = normledger.Client(a.node)
    try:
        chain = client.status()["chainId"]
        df = compliance_frame(client, height=a.height, all_members=a.all_members)
    except normledger.NormledgerError as e:
        print(f"compliance_chart: {e}", file=sys.stderr)
        return 1
    if df.empty:
        print(f"compliance_chart: no {'members' if a.all_members else 'state members'} on {a.node}", file=sys.stderr)
        return 1
    height = int(df["height"].iloc[0])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.drop(columns=["height"]).to_string())
    chart(df, a.output, f"Duties by status, {chain} at height {height}")
    print(f"wrote {a.output} ({len(df)} members, height {height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
