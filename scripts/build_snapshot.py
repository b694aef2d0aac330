"""Build the embedded snapshot (workflow/resources/snapshot) from the shared release files.

Usage: python scripts/build_snapshot.py [--shared ../shared/data] [--out workflow/resources/snapshot]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from usher_pipeline.snapshot import build_snapshot  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(REPO / "workflow" / "resources" / "snapshot"))
    args = ap.parse_args(argv)
    manifest = build_snapshot(args.shared, args.out)
    total = sum(e["size"] for e in manifest["files"])
    for e in manifest["files"]:
        print(f"{e['size']:>10}  {e['path']}")
    print(
        f"{total:>10}  total ({total / 1e6:.1f} MB) in {len(manifest['files'])} files -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
