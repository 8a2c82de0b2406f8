-- The transactional outbox: queue messages a change decided on, written in the same statement as the change, so
-- the change is never stored without its messages nor its messages sent without the change. A row is deleted once
-- its message is on the queue (ttai.outbox relays it right after the commit, and any row left by a send that failed
-- before the next job runs); consumers drop a second copy by its message id. user_id is the message's user, so an
-- erasure takes waiting messages with the rest of the user's rows.
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue      text NOT NULL CHECK (queue IN ('TASK_QUEUE', 'NOTIFICATION_QUEUE', 'ANALYSIS_QUEUE')),
    message_id text NOT NULL UNIQUE CHECK (length(message_id) BETWEEN 1 AND 64),
    user_id    text,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_user ON outbox (user_id) WHERE user_id IS NOT NULL;
