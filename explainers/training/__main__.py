import sys

from explainers.training.engine import main

sys.exit(main())
