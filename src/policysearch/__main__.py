"""``python -m policysearch``."""

from .cli.main import main

main()
