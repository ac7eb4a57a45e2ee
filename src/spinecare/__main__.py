import sys

from spinecare.cli import main

sys.exit(main())
