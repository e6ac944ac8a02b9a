"""Settings for the whole suite."""

from hypothesis import settings

# No per-example deadline: the suite runs in parallel workers on shared machines, where a slow
# example means a busy CPU, not a bug (speed is measured by bench/, not by tests).
settings.register_profile("labnode", deadline=None)
settings.load_profile("labnode")
