import sys

from explainers.training.cli import main

sys.exit(main())
