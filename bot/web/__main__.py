from bot.web.server import main

raise SystemExit(main())
