"""``python -m policysearch``."""

from .cli.app import main

main()
