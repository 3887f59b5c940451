"""``python -m seeder``: the same as the ``k8s-seed`` console script."""

from seeder.cli import main

raise SystemExit(main())
