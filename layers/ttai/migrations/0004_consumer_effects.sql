-- What the queue consumers need to take effect exactly once, and where a user's Discord webhook lives.
--
-- SQS delivers at least once, and a consumer can fail after its SQL committed (a notification send failing after
-- an alert fired); the retry must not write again. Each row a message writes carries the message's id, unique, so
-- a second attempt's INSERT ... ON CONFLICT (message_id) DO NOTHING is a no-op. NULL for rows written otherwise
-- (the API, backfills): a unique constraint never compares NULLs.
ALTER TABLE alert_events ADD COLUMN message_id text UNIQUE CHECK (message_id IS NULL OR length(message_id) <= 64);
ALTER TABLE screener_results ADD COLUMN message_id text UNIQUE CHECK (message_id IS NULL OR length(message_id) <= 64);

-- A Discord webhook URL is a credential for one channel: the API validates it (Discord's hosts only), never
-- returns it whole, and the consumer posts notifications to it.
ALTER TABLE user_preferences ADD COLUMN discord_webhook_url text
    CHECK (discord_webhook_url IS NULL OR length(discord_webhook_url) <= 512);
