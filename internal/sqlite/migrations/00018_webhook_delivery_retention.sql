-- +goose Up
-- Retention of webhook deliveries (issues 20 and 25): the finished
-- deliveries (succeeded or failed) by when they last changed, which is
-- what retention removes after USERSVC_WEBHOOK_DELIVERY_RETENTION
-- (sqlite.WebhookDeliveries.PurgeFinished). Pending deliveries are not in
-- it: they stay, however old. An index only, so the release before this
-- one keeps working on this schema (docs/deploy.md).
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE state <> 'pending';

-- +goose Down
DROP INDEX IF EXISTS webhook_deliveries_finished;
