-- +goose NO TRANSACTION
-- +goose Up
-- Retention of webhook deliveries (issues 20 and 25): the finished
-- deliveries (succeeded or failed) by when they last changed, which is
-- what retention removes after USERSVC_WEBHOOK_DELIVERY_RETENTION
-- (postgres.WebhookDeliveries.PurgeFinished). Pending deliveries are not
-- in it: they stay, however old. An index only, so the release before this
-- one keeps working on this schema (docs/deploy.md); built CONCURRENTLY,
-- as migration 00012's, so that deliveries go on while it builds, after a
-- DROP ... IF EXISTS that clears an INVALID index a failed build left.
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_finished;
CREATE INDEX CONCURRENTLY webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE state <> 'pending';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS webhook_deliveries_finished;
