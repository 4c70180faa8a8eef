"""Settings for the whole suite. Hypothesis runs without its per-example deadline: speed goals
live in bench/, and a busy machine must not turn a slow example into a failure."""

from hypothesis import settings

settings.register_profile("pocketmq", deadline=None)
settings.load_profile("pocketmq")
