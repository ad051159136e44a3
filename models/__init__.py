"""Stochastic optimization study of pension reform for China's basic old-age insurance.

Data flow (each stage a subpackage with a small public surface):
calibration -> ``demography`` -> ``pension`` / ``economy`` -> ``optimize`` -> ``study`` (results, tables).
Nothing in ``models`` touches the disk except ``models.pipeline``, ``models.report``, ``models.study``, ``models.demography.derive`` and ``models.cli``.
"""

__version__ = "0.1.0"
