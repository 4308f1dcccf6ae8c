from switchboard.router.node.cli import main

raise SystemExit(main())
