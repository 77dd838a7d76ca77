import sys

from clavis.cli import main

sys.exit(main())
