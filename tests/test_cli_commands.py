"""The ``pension`` command's parser loads none of the models (issue 11: ``--help`` took ~9 s).

``models.cli`` is the parser; each command is a module of ``models/cli/`` imported when that
command runs (``COMMANDS``). What is checked is what a user sees as speed, without timing
anything: which third-party packages ``pension --help`` imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from models.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[1]
#: The packages that made ``pension --help`` slow (python -X importtime, 30 November 2026:
#: models.config 4.0 s with xarray, pandas, pydantic; pyomo and matplotlib through the report
#: 2.9 s; scipy through the pension accounts and the demography 1.9 s).
HEAVY = ("numpy", "pandas", "xarray", "scipy", "pyomo", "matplotlib", "pydantic", "highspy")


def test_help_imports_none_of_the_models_or_their_libraries():
    code = ("import sys\nimport models.cli\n"
            "try:\n    models.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.splitlines()[-1].split()
    heavy = sorted({m.split(".")[0] for m in out} & set(HEAVY))
    models_loaded = sorted(m for m in out if m.startswith("models.")
                           and m not in ("models.cli", "models.study", "models.study.options"))
    assert heavy == [], f"pension --help imports {heavy}"
    assert models_loaded == [], f"pension --help imports {models_loaded}"


def test_every_command_has_a_module_with_main_and_the_parser_knows_it():
    parser_commands = set(build_parser()._subparsers._group_actions[0].choices)
    assert parser_commands == set(COMMANDS)
    for name, module in COMMANDS.items():
        path = ROOT / Path(*module.split(".")).with_suffix(".py")
        assert module.startswith("models.cli.") and path.is_file(), (name, module)
        defs = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        assert "main" in defs, f"{module} has no main(args)"


def test_python_m_models_cli_is_the_command():
    out = subprocess.run([sys.executable, "-m", "models.cli", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: pension")
    for name in COMMANDS:
        assert name in out
