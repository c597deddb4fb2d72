"""The paper's whole study end to end: stages, cache, lock, config.

``run_study(config, out_dir)`` trains set-ups I/II/III, evaluates deep and
classical models on natural images and on pop-out arrays, runs the neuron
analysis and the representation comparison, and writes an HTML report.
"""

from salscope.study.config import StudyConfig, build_config, load_config

__all__ = ["StudyConfig", "build_config", "load_config"]
