"""Pure logic of what Nexus writes about a member for the community: the learner's README. No database, no
discord."""
