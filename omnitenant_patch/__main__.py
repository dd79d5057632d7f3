"""``python -m omnitenant_patch demo [--broker URL] [--pool POOL] [--keep]`` runs the demo;
``python -m omnitenant_patch settings-table`` prints README's settings table."""

import sys

USAGE = ("usage: python -m omnitenant_patch demo [--broker URL] [--pool POOL] [--keep]\n"
         "       python -m omnitenant_patch settings-table")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["settings-table"]:
        from .conf import settings_table

        print(settings_table())
        return 0
    if argv[:1] != ["demo"]:
        print(USAGE, file=sys.stderr)
        return 2
    from .demo import main as demo

    return demo(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
