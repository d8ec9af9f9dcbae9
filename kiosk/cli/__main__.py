"""``python -m kiosk.cli``: the same as the ``phucvu`` command."""
from kiosk.cli import main

main()
