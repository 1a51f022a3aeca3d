-- Webhook deliveries: the delivery id a sender gives (X-Dagy-Delivery) and the run it queued, so
-- a replayed delivery answers with that run instead of queuing another. Pruned by `dagy serve`
-- past DAGY_RETENTION_DAYS (docs/security.md).
CREATE TABLE webhook_deliveries (
    sensor_id    VARCHAR NOT NULL,
    delivery_id  VARCHAR NOT NULL,
    run_id       VARCHAR NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (sensor_id, delivery_id)
);
