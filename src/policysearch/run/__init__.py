"""The run's machinery: what turns options into a trained run folder.

- :mod:`~policysearch.run.options`: :class:`~policysearch.run.options.TrainOptions`, what to train and how;
- :mod:`~policysearch.run.factory`: builds a new run, or a stored one to resume (migrating
  hyperparameters added since it was written);
- :mod:`~policysearch.run.trainer`: the loop (budgets, target, checkpoints, callbacks);
- :mod:`~policysearch.run.guards`: checks during a run (memory, non-finite values, the env's
  episode limit), each failing with one line;
- :mod:`~policysearch.run.evaluation`: the evaluation protocol;
- :mod:`~policysearch.run.runfolder`: the run folder and its atomic, pickle-free checkpoint;
- :mod:`~policysearch.run.interrupts`: SIGINT and SIGTERM, deferred around a checkpoint write;
- :mod:`~policysearch.run.callbacks`: what watches a run (the
  :class:`~policysearch.run.callbacks.Callback` protocol, the progress lines),
  :mod:`~policysearch.run.tensorboard` (TensorBoard scalars) and :mod:`~policysearch.run.plots`
  (the learning curve, ``policysearch plot``).

Progress, the learning curve and TensorBoard are here, not in :mod:`policysearch.cli`, because
the trainer writes them for the Python API too: the run never imports the command line.
"""
