"""The class tree: what the classes are (``taxonomy``) and how a model's scores become answers that respect
it (``decisions``). Two modules, so that the data stages, which need only the first, do not rerun when the
decision rules change."""
