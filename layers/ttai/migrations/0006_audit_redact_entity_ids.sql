-- Erasing a user (DELETE /api/v1/me) redacts their audit events, but some events name the user in entity_id too
-- (a sign-in's entity is the user, preferences are keyed by user): 0001's trigger kept entity_id unchanged, so the
-- user's id would outlive the erasure. 'redact' may now also clear entity_id when it is the event's own user_id;
-- every other rule of the append-only trail stays as 0001 wrote it.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mode text := coalesce(current_setting('ttai.audit_maintenance', true), '');
BEGIN
    IF TG_OP = 'UPDATE' AND mode = 'redact'
       AND NEW.id = OLD.id AND NEW.occurred_at = OLD.occurred_at AND NEW.action = OLD.action
       AND NEW.entity = OLD.entity
       AND (NEW.entity_id IS NOT DISTINCT FROM OLD.entity_id
            OR (NEW.entity_id IS NULL AND OLD.entity_id IN (OLD.user_id, OLD.actor)))
       AND NEW.user_id IS NULL AND NEW.actor IS NULL AND NEW.details = '{}'::jsonb AND NEW.redacted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND mode = 'retention' AND OLD.occurred_at < now() - interval '90 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
