import sys

from salscope.cli import main

sys.exit(main())
