"""``python -m ivt_explore …``: the ivt-explore program, as the ``ivt-explore`` command runs it."""

from ivt_explore._cli import main

if __name__ == "__main__":
    main()
