"""``python -m imagebuild plan BOARD``: what the image of a board will hold; ``build
BOARD``: the image; ``boards``: the boards there are."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .boards import BoardError, load, names
from .build import REPO, BuildError, build
from .plan import plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imagebuild", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("boards", help="list the boards")
    show = commands.add_parser("plan", help="the packages and partitions of a board's image")
    show.add_argument("board")
    make = commands.add_parser("build", help="build a board's image into out/BOARD/")
    make.add_argument("board")
    make.add_argument("--out", type=Path, help="default: out/BOARD")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="imagebuild: %(message)s")
    if args.command == "boards":
        print("\n".join(names()))
        return 0
    try:
        planned = plan(load(args.board))
        if args.command == "build":
            build(planned, args.out or REPO / "out" / args.board)
            return 0
    except (BoardError, BuildError) as exc:
        print(f"imagebuild: error: {exc}", file=sys.stderr)
        return 2
    board = planned.board
    print(f"{board.name}: {board.description} ({board.arch}, boots by {board.boot_method})")
    print(f"packages ({len(planned.packages)}): {' '.join(planned.packages)}")
    print(f"kernel command line: {planned.cmdline}")
    print(f"disk: {planned.disk_mib} MiB, partitions:")
    for part in planned.partitions:
        print(f"  {part.label:7} {part.filesystem:5} {part.size_mib:6} MiB at "
              f"{part.start_mib} MiB  type {part.type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
