import sys

from consensus_lab.cli import main

sys.exit(main())
