-- The positions and alerts lists of every status ('all', the default for alerts) page through a user's rows by id.
-- 0001's (user_id, status, id) indexes serve one status at a time; for all of them PostgreSQL could only walk the
-- primary key and filter by user, reading every other user's rows newer (or older) than the user's own: 90,304
-- alerts read for a page of 51, for a user whose alerts are not the newest. These indexes give that order per user.
-- Plain CREATE INDEX (a migration runs in one transaction, where CONCURRENTLY is refused): writes to the table wait
-- while it builds, about a second per million rows.
CREATE INDEX positions_user_id ON positions (user_id, id);
CREATE INDEX alerts_user_recent ON alerts (user_id, id DESC);
