"""``python -m omnitenant_patch demo [--broker URL]``."""

import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "demo":
        print("usage: python -m omnitenant_patch demo [--broker URL] [--pool POOL] [--keep]",
              file=sys.stderr)
        return 2
    from .demo import main as demo

    return demo(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
