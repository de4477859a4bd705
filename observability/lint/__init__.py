"""Stage: lint. Offline validation of everything rendered (`obsctl lint`, see docs/lint.md).

`observability.lint.runner.run_lint(root, cfg)` runs every check; each returns `Finding`s.
"""

from observability.lint.findings import Finding

__all__ = ["Finding"]
