"""`python -m scoregap` runs the command line."""

from scoregap.tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
