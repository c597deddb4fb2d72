"""The exceptions salscope raises.

Every error a user can cause derives from :class:`SalscopeError`; its message
names the file or argument at fault and what to do about it.
"""


class SalscopeError(Exception):
    """Base class of every salscope error caused by input or configuration."""


class DataError(SalscopeError):
    """A data set, image, fixation file or annotation is missing or malformed."""


class DownloadError(DataError):
    """A download failed, was cut, or did not match its checksum."""


class MetricError(SalscopeError):
    """A metric was given maps or fixations it cannot score."""


class ModelError(SalscopeError):
    """An unknown model/backbone/layer, or weights that do not fit the model."""


class TrainError(SalscopeError):
    """A training configuration or checkpoint cannot be used."""


class ConfigError(SalscopeError):
    """A configuration file or option has an unknown key or a bad value."""


class AnalysisError(SalscopeError):
    """A neuron or representation analysis got inputs it cannot compare."""


class StudyError(SalscopeError):
    """A study cannot run or resume (missing stage inputs, locked folder)."""
