"""One module per stage of the study; each stage function takes a :class:`~salscope.study.runner.StageContext`.

:mod:`~salscope.study.stages.common` holds what they share. Each stage calls the
same library function as its CLI command (``salscope evaluate``, ``popout
evaluate``, ``dissect``, ``compare``, ``train``); :mod:`salscope.study.pipeline`
runs them in order and :mod:`salscope.study.report_stage` renders the report.
"""
