"""``python -m rs_vlm``: the same as the ``rs-vlm`` console script."""

from rs_vlm.cli import main

if __name__ == '__main__':
    raise SystemExit(main())
