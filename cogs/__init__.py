"""Discord-facing command groups. Each module or package here is an extension the bot loads."""
