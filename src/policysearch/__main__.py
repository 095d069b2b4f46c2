"""``python -m policysearch``."""

from .cli import main

main()
