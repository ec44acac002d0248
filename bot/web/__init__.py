"""The Nexus hub on the web (`nexus-bot web`): topic cards and the published challenges of servers that opted in.

A second process beside the bot, reading the same database. It must stay light, so nothing here imports discord.
What is published is decided by `bot.db.web_repository` alone; this package only renders it.
"""
