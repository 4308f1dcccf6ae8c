#!/usr/bin/env python
"""The example site's manage.py (run it with the repository's .venv/bin/python)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notesite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
