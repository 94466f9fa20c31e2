//! rubedo-pubsub: channels, patterns, shard channels and notifications.
