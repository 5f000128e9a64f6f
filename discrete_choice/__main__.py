"""Allow ``python -m discrete_choice``."""

import sys

from discrete_choice.cli import main

sys.exit(main())
