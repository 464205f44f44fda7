"""`python -m crm_tui` runs the same command line as `crm`."""

from crm_tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
