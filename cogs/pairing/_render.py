"""What pairing says: pure text and `EmbedSpec`s, held to Discord's limits; nothing here calls Discord."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from discord.utils import escape_markdown

from bot.core.embeds import EmbedField, EmbedSpec, shorten
from bot.core.limits import EMBED_DESCRIPTION, EMBED_FIELD_VALUE, MESSAGE_CONTENT
from bot.services.pairing import (
    UNTIL_RESUMED,
    Learner,
    MatchView,
    PairStats,
    PastPair,
    RequestOutcome,
    SessionNoticeView,
    SessionView,
    StatusView,
)

TopicTitle = Callable[[str], str]
PAIRING_COLOUR = 0x3BA55C


def stamp(moment: datetime, style: str = "f") -> str:
    """A Discord timestamp: every reader sees it in their own timezone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def local_time(moment: datetime, timezone: str) -> str:
    """`Friday 3 December, 20:00 (Africa/Lagos)`: the wall clock of the reader's own zone, for reminders."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%A} {local.day} {local:%B}, {local:%H:%M} ({timezone})"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def topics_text(slugs: Sequence[str], topic_title: TopicTitle) -> str:
    return ", ".join(f"**{topic_title(slug)}**" for slug in slugs) or "none given"


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def _learner_line(learner: Learner, match: MatchView) -> str:
    hours = match.overlap_for(learner)
    free = f"free together {hours} ({learner.timezone})" if hours else "no shared hours given"
    return f"{mention(learner.user_id)}: {learner.track}; {free}"


def introduction(match: MatchView, topic_title: TopicTitle) -> tuple[str, EmbedSpec]:
    """The thread's (or each DM's) opening message: who, shared topics with their `/topic` cards, shared hours in
    each learner's own time, and what to do next."""
    content = f"{mention(match.a.user_id)} meet {mention(match.b.user_id)}: you are paired! 🎉"
    if match.shared_topics:
        topics = "\n".join(
            f"• **{topic_title(slug)}**: `/topic name:{topic_title(slug)}`" for slug in match.shared_topics
        )
    else:
        topics = "None in common yet: tell each other what you are working on."
    spec = EmbedSpec(
        title="Your new study pair",
        description=shorten(
            "Frontend and backend learners build better together: one's endpoints, the other's screens. "
            "Say hello, agree on a first session with the button below, and share your repos.",
            EMBED_DESCRIPTION,
        ),
        fields=(
            EmbedField("Learners", shorten(f"{_learner_line(match.a, match)}\n{_learner_line(match.b, match)}", 1024)),
            EmbedField("Shared topics", shorten(topics, EMBED_FIELD_VALUE)),
        ),
        footer=f"Pair #{match.pair_id} · Schedule a session or end the pairing with the buttons.",
        colour=PAIRING_COLOUR,
    )
    return content, spec


def dm_note(match: MatchView, user_id: int, thread_id: int | None) -> str:
    partner = match.partner_of(user_id)
    where = f" Say hello in <#{thread_id}>." if thread_id else ""
    return f"You are paired with {mention(partner.user_id)} ({partner.track}) for study sessions.{where}"


def request_reply(outcome: RequestOutcome, topic_title: TopicTitle, thread_id: int | None) -> str:
    lines: list[str] = []
    if outcome.resumed:
        lines.append("You were paused; asking again has resumed you.")
    if outcome.match is not None:
        partner = outcome.match.partner_of(outcome.learner.user_id)
        where = f" in <#{thread_id}>" if thread_id else " in your DMs"
        lines.append(f"Matched at once with {mention(partner.user_id)} ({partner.track})! Say hello{where}.")
        if outcome.match.shared_topics:
            lines.append(f"Shared topics: {topics_text(outcome.match.shared_topics, topic_title)}.")
    else:
        ahead = f"{outcome.ahead} request(s) waited longer" if outcome.ahead else "you are first in line"
        lines.append(
            f"You are in the queue as **{outcome.learner.track}**, looking for **{outcome.looking_for}** ({ahead}). "
            "You will hear from me as soon as a partner fits; `/pair status` shows your place."
        )
    lines.append(f"Topics: {topics_text(outcome.topics, topic_title)}.")
    if outcome.availability:
        lines.append(f"Availability understood as: {outcome.availability} ({outcome.learner.timezone}).")
    else:
        lines.append("No availability given: you can be matched with anyone's hours.")
    return shorten("\n".join(lines), MESSAGE_CONTENT)


def status_text(status: StatusView, topic_title: TopicTitle) -> str:
    if status.learner is None:
        return "You are not in pairing yet: `/pair request track:…` joins the queue."
    lines = [f"Track **{status.learner.track}**, timezone {status.learner.timezone}."]
    lines.append(f"Availability: {status.availability}." if status.availability else "Availability: not given.")
    if status.paused_until is not None:
        until = (
            "until you `/pair resume`"
            if status.paused_until >= UNTIL_RESUMED
            else f"until {stamp(status.paused_until)}"
        )
        lines.append(f"⏸️ Paused {until}.")
    if status.waiting is not None:
        waiting = status.waiting
        lines.append(
            f"Waiting since {stamp(waiting.since, 'R')} for **{waiting.looking_for}** "
            f"({waiting.ahead} ahead of you); topics {topics_text(waiting.topics, topic_title)}; "
            f"expires {stamp(waiting.expires_at, 'R')}."
        )
    else:
        lines.append("No request waiting.")
    for pair in status.current_pairs:
        thread = f" in <#{pair.thread_id}>" if pair.thread_id else ""
        lines.append(f"Paired with {mention(pair.partner_id)} since {stamp(pair.matched_at, 'D')}{thread}.")
    return shorten("\n".join(lines), MESSAGE_CONTENT)


def history_text(pairs: Sequence[PastPair], topic_title: TopicTitle) -> str:
    if not pairs:
        return "You have not been paired yet: `/pair request` joins the queue."
    lines = ["Your pairings, newest first:"]
    for pair in pairs:
        ended = f"ended {stamp(pair.ended_at, 'D')}" if pair.ended_at else "ongoing"
        topics = f"; {topics_text(pair.shared_topics, topic_title)}" if pair.shared_topics else ""
        lines.append(f"• {mention(pair.partner_id)}, {stamp(pair.matched_at, 'D')}, {ended}{topics}")
    return shorten("\n".join(lines), MESSAGE_CONTENT)


def stats_embed(stats: PairStats) -> EmbedSpec:
    waiting = ", ".join(f"{track}: {count}" for track, count in stats.waiting_by_track.items())
    median = _duration(stats.median_wait) if stats.median_wait is not None else "nobody waiting"
    answered = stats.met + stats.not_met
    met = f"{stats.met} of {answered} said they met" if answered else "no answers yet"
    return EmbedSpec(
        title="Pairing",
        fields=(
            EmbedField("Queue", waiting, inline=True),
            EmbedField("Median wait", median, inline=True),
            EmbedField("Matches this week", str(stats.matches_this_week), inline=True),
            EmbedField("Check-ins (30 days)", f"{stats.checkins_asked} asked; {met}", inline=False),
        ),
        colour=PAIRING_COLOUR,
    )


def session_line(session: SessionView, viewer_id: int, topic_title: TopicTitle) -> str:
    topic = f", {topic_title(session.topic)}" if session.topic else ""
    return (
        f"**#{session.session_id}** {stamp(session.starts_at)} with {mention(session.other(viewer_id))}, "
        f"{session.duration_minutes} min{topic}"
    )


def sessions_text(
    sessions: Sequence[SessionView],
    viewer_id: int,
    topic_title: TopicTitle,
    invitations: Sequence[SessionView] = (),
) -> str:
    """Booked sessions, then invitations still waiting for an answer (not booked)."""
    if sessions:
        lines = ["Your upcoming sessions (times in your own timezone):"]
        lines += [f"• {session_line(session, viewer_id, topic_title)}" for session in sessions]
    else:
        lines = ["No upcoming sessions. `/session schedule partner:… when:…` books one."]
    if invitations:
        lines.append("Waiting for an answer:")
    for invitation in invitations:
        if invitation.organiser_id == viewer_id:
            lapses = stamp(invitation.respond_by, "R") if invitation.respond_by else "soon"
            state = f"you invited them; it lapses {lapses} (`/session cancel` withdraws it)"
        else:
            state = "they invite you, answer in your DMs"
        lines.append(f"• {session_line(invitation, viewer_id, topic_title)}: {state}")
    return shorten("\n".join(lines), MESSAGE_CONTENT)


def scheduled_text(session: SessionView, viewer_id: int, timezone: str, topic_title: TopicTitle) -> str:
    return (
        f"Session **#{session.session_id}** with {mention(session.other(viewer_id))} is booked for "
        f"{stamp(session.starts_at, 'F')} ({local_time(session.starts_at, timezone)}), "
        f"{session.duration_minutes} min"
        + (f" on **{topic_title(session.topic)}**" if session.topic else "")
        + ". Both of you will be reminded a day and 15 minutes before. `/session cancel` calls it off."
    )


def _session_words(session: SessionView, timezone: str, topic_title: TopicTitle) -> str:
    """`Friday …, 20:00 (Africa/Lagos), 60 min on **Django**`: when (for every reader, and in one zone), how long, on
    what."""
    topic = f" on **{topic_title(session.topic)}**" if session.topic else ""
    return (
        f"{stamp(session.starts_at, 'F')} ({local_time(session.starts_at, timezone)}), "
        f"{session.duration_minutes} min{topic}"
    )


def invitation_text(session: SessionView, guild_name: str, timezone: str, topic_title: TopicTitle) -> str:
    """The invitee's private prompt (a DM, pinging nobody)."""
    respond_by = stamp(session.respond_by, "R") if session.respond_by else "soon"
    return (
        f"📅 {mention(session.organiser_id)} invites you to a study session in **{escape_markdown(guild_name)}**: "
        f"{_session_words(session, timezone, topic_title)}. Nothing is booked and nobody is reminded unless you "
        f"accept; the invitation lapses {respond_by}. Only you see this."
    )


def invitation_sent_text(session: SessionView) -> str:
    respond_by = stamp(session.respond_by, "R") if session.respond_by else "soon"
    return (
        f"I have asked {mention(session.partner_id)} privately whether session **#{session.session_id}** on "
        f"{stamp(session.starts_at, 'F')} suits them; they have until {respond_by} to accept. You are not paired, "
        "so nothing is booked until they do. I will DM you their answer; `/session cancel` withdraws the invitation."
    )


def invitation_undelivered_text(partner_id: int) -> str:
    return (
        f"I could not ask {mention(partner_id)}: their DMs are closed to me, so nothing is booked and they were not "
        "told. A session with someone who is not your pairing partner needs their consent in private; ask them to "
        "allow DMs from this server, or find a partner with `/pair request`."
    )


def answered_text(session: SessionView, viewer_id: int, timezone: str, topic_title: TopicTitle) -> str:
    """What the invitation in the invitee's DMs becomes once answered."""
    if session.state == "scheduled":
        return "✅ Accepted. " + scheduled_text(session, viewer_id, timezone, topic_title)
    return (
        f"You declined the study session with {mention(session.organiser_id)} on "
        f"{stamp(session.starts_at, 'F')}: nothing is booked, and they are told."
    )


def invitation_answer_text(session: SessionView, timezone: str, topic_title: TopicTitle) -> str:
    """The organiser hears the invitee's answer."""
    if session.state == "scheduled":
        return f"✅ {mention(session.partner_id)} accepted your invitation. " + scheduled_text(
            session, session.organiser_id, timezone, topic_title
        )
    return (
        f"{mention(session.partner_id)} declined your invitation to a study session on "
        f"{stamp(session.starts_at, 'F')}: nothing is booked."
    )


def lapsed_text(session: SessionView) -> str:
    return (
        f"{mention(session.partner_id)} did not answer your invitation to a study session on "
        f"{stamp(session.starts_at, 'F')} in time, so it has lapsed: nothing is booked."
    )


def withdrawn_text(session: SessionView, actor_id: int) -> str:
    """`/session cancel` on an invitation: private, pinging nobody (it was never booked)."""
    if actor_id == session.organiser_id:
        return f"Your invitation **#{session.session_id}** is withdrawn; nothing was booked."
    return f"You declined invitation **#{session.session_id}**; nothing is booked, and the organiser is told."


def notice_text(notice: SessionNoticeView, topic_title: TopicTitle) -> str:
    session = notice.session
    topic = f" on **{topic_title(session.topic)}**" if session.topic else ""
    other = mention(session.other(notice.user_id))
    when = f"{stamp(session.starts_at, 'F')}, {local_time(session.starts_at, notice.timezone)}"
    if notice.kind == "day":
        return f"⏰ Reminder: study session **#{session.session_id}** with {other}{topic} starts tomorrow: {when}."
    if notice.kind == "soon":
        return f"⏰ Study session **#{session.session_id}** with {other}{topic} starts in 15 minutes: {when}."
    return (
        f"How did study session **#{session.session_id}** with {other}{topic} go? One click tells me (only you see it)."
    )


def checkin_text(partner_id: int) -> str:
    return (
        f"A few days ago you were paired with {mention(partner_id)}. Did you meet? "
        "Your answer helps pair learners better."
    )


def expired_text(waited: timedelta) -> str:
    return (
        f"Your pairing request waited {_duration(waited)} without a partner who fits, so it has expired. "
        "Renew it with the button, or `/pair request` with other topics or hours."
    )


def auto_paused_text() -> str:
    return (
        "You did not answer two check-ins in a row, so I have paused your pairing: you will not be matched "
        "until you come back. `/pair resume` (or a new `/pair request`) brings you back."
    )


def partner_left_text() -> str:
    return (
        "Your new partner left the server before I could introduce you. You are back in the queue, in the same "
        "place as before."
    )
