//! rubedo-pubsub: channels, patterns, shard channels and notifications.
//!
//! - [`outbox`]: the per-client queue other clients push frames into, with
//!   Redis's output-buffer limits.
//! - [`hub`]: the subscription registry and message delivery.
//! - [`notify`]: keyspace-event classes (`notify-keyspace-events`) and the
//!   notification channels.

pub mod hub;
pub mod notify;
pub mod outbox;

pub use hub::{encode_push, ClientSubs, Hub, Kind, Subscriber};
pub use outbox::{Class, Limit, Limits, Outbox, Pushed};
