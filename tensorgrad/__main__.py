"""``python -m tensorgrad`` runs the ``tensorgrad`` command."""
import sys

from .training.cli import main

sys.exit(main())
