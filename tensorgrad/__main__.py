"""``python -m tensorgrad`` runs the ``tensorgrad`` command."""
import sys

from .cli import main

sys.exit(main())
