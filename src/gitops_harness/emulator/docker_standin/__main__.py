from gitops_harness.emulator.docker_standin.cli import main

raise SystemExit(main())
