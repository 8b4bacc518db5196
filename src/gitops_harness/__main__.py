from gitops_harness.cli import main

raise SystemExit(main())
