"""Pop-out search arrays scored like eye movements: hit rules, simulated search, results and figures.

Where things live: :mod:`~.scoring` (:func:`evaluate_popout`,
:func:`score_search_array`, :func:`write_popout_results`), :mod:`~.results`
(:class:`PopoutResults`, :func:`load_popout_results`) and :mod:`~.figures`.
The arrays themselves come from :mod:`salscope.data.popout`, the per-map
measures from :mod:`salscope.metrics.popout`.
"""

from salscope.analysis.popout.results import PopoutResults, load_popout_results
from salscope.analysis.popout.scoring import evaluate_popout, score_search_array, write_popout_results

__all__ = ["PopoutResults", "evaluate_popout", "load_popout_results", "score_search_array", "write_popout_results"]
