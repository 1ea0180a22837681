"""The torch training engine (configs, the fit loop, the threaded run) and its data sources."""

from explainers.training.engine import *  # noqa: F401,F403
from explainers.training.engine import _augment, _augmenter  # noqa: F401
