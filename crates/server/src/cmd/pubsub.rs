//! The pubsub group: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
//!
//! Confirmations go through the client's outbox under the hub's lock, so
//! they keep their order with messages published by other clients at the
//! same moment; the command itself then writes no reply of its own.

use std::sync::atomic::Ordering::Relaxed;

use rubedo_pubsub::Kind;
use rubedo_resp::Frame;

use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd, Spec};
use crate::error::CmdResult;

const G: &str = "pubsub";
const PS: u64 = acl::PUBSUB | acl::SLOW;
const SUB: u64 = PUBSUB | NOSCRIPT | LOADING | STALE;

static SHARD_ALL: &[Spec] = &[ks(kf::NOT_KEY, 1, -1, 1)];
static SHARD_ONE: &[Spec] = &[ks(kf::NOT_KEY, 1, 0, 1)];

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("subscribe", -2, subscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .doc(
            G,
            "2.0.0",
            "O(N) where N is the number of channels to subscribe to.",
            "Listens for messages published to channels.",
        ),
    Cmd::new("unsubscribe", -1, unsubscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .doc(
            G,
            "2.0.0",
            "O(N) where N is the number of channels to unsubscribe.",
            "Stops listening to messages posted to channels.",
        ),
    Cmd::new("psubscribe", -2, psubscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .doc(
            G,
            "2.0.0",
            "O(N) where N is the number of patterns to subscribe to.",
            "Listens for messages published to channels that match one or more patterns.",
        ),
    Cmd::new("punsubscribe", -1, punsubscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .doc(
            G,
            "2.0.0",
            "O(N) where N is the number of patterns to unsubscribe.",
            "Stops listening to messages published to channels that match one or more patterns.",
        ),
    Cmd::new("ssubscribe", -2, ssubscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .specs(SHARD_ALL)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of shard channels to subscribe to.",
            "Listens for messages published to shard channels.",
        ),
    Cmd::new("sunsubscribe", -1, sunsubscribe)
        .flags(SUB | SUBSCRIBED_OK)
        .acl(PS)
        .specs(SHARD_ALL)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of shard channels to unsubscribe.",
            "Stops listening to messages posted to shard channels.",
        ),
    Cmd::new("publish", 3, publish)
        .flags(PUBSUB | LOADING | STALE | FAST)
        .acl(acl::PUBSUB | acl::FAST)
        .doc(
            G,
            "2.0.0",
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
            "Posts a message to a channel.",
        ),
    Cmd::new("spublish", 3, spublish)
        .flags(PUBSUB | LOADING | STALE | FAST)
        .acl(acl::PUBSUB | acl::FAST)
        .specs(SHARD_ONE)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
            "Post a message to a shard channel",
        ),
    Cmd::container("pubsub", PUBSUB_SUBS).doc(
        G,
        "2.8.0",
        "Depends on subcommand.",
        "A container for Pub/Sub commands.",
    ),
];

static PUBSUB_SUBS: &[Cmd] = &[
    Cmd::new("pubsub|channels", -2, pubsub_channels)
        .flags(PUBSUB | LOADING | STALE)
        .acl(PS)
        .doc(
            G,
            "2.8.0",
            "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
            "Returns the active channels.",
        ),
    Cmd::new("pubsub|numsub", -2, pubsub_numsub)
        .flags(PUBSUB | LOADING | STALE)
        .acl(PS)
        .doc(
            G,
            "2.8.0",
            "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
            "Returns a count of subscribers to channels.",
        ),
    Cmd::new("pubsub|numpat", 2, pubsub_numpat)
        .flags(PUBSUB | LOADING | STALE)
        .acl(PS)
        .doc(
            G,
            "2.8.0",
            "O(1)",
            "Returns a count of unique pattern subscriptions.",
        ),
    Cmd::new("pubsub|help", 2, pubsub_help)
        .flags(LOADING | STALE)
        .acl(acl::SLOW)
        .doc(
            G,
            "6.2.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
    Cmd::new("pubsub|shardchannels", -2, pubsub_shardchannels)
        .flags(PUBSUB | LOADING | STALE)
        .acl(PS)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
            "Returns the active shard channels.",
        ),
    Cmd::new("pubsub|shardnumsub", -2, pubsub_shardnumsub)
        .flags(PUBSUB | LOADING | STALE)
        .acl(PS)
        .doc(
            G,
            "7.0.0",
            "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
            "Returns the count of subscribers of shard channels.",
        ),
];

fn subscribe(ctx: &mut Ctx) -> CmdResult {
    change(ctx, Kind::Channel, true)
}

fn unsubscribe(ctx: &mut Ctx) -> CmdResult {
    change(ctx, Kind::Channel, false)
}

fn psubscribe(ctx: &mut Ctx) -> CmdResult {
    change(ctx, Kind::Pattern, true)
}

fn punsubscribe(ctx: &mut Ctx) -> CmdResult {
    change(ctx, Kind::Pattern, false)
}

fn ssubscribe(ctx: &mut Ctx) -> CmdResult {
    // Inside EXEC a client may not block, and unlike SUBSCRIBE (kept for old
    // clients) SSUBSCRIBE is refused there.
    if !ctx.caller.may_block() {
        return Err(crate::error::err(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    change(ctx, Kind::Shard, true)
}

fn sunsubscribe(ctx: &mut Ctx) -> CmdResult {
    change(ctx, Kind::Shard, false)
}

/// (Un)subscribes; the confirmations are the client's own frames (written
/// where the reply would go, inside EXEC's array too, as Redis writes them).
fn change(ctx: &mut Ctx, kind: Kind, on: bool) -> CmdResult {
    let names = &ctx.argv[1..];
    let info = ctx.client.info.clone();
    let now = ctx.now();
    let hub = &ctx.srv.signals.hub;
    if on {
        hub.subscribe(&info, &mut ctx.client.subs, kind, names, now);
    } else {
        let names = (!names.is_empty()).then_some(names);
        hub.unsubscribe(&info, &mut ctx.client.subs, kind, names, now);
    }
    sync_counts(ctx);
    ctx.silence();
    Ok(Frame::ok())
}

/// Publishes the client's subscription counts for CLIENT LIST and the
/// output-buffer class.
pub fn sync_counts(ctx: &mut Ctx) {
    let s = &ctx.client.subs;
    let i = &ctx.client.info;
    i.subs[0].store(s.channels.len(), Relaxed);
    i.subs[1].store(s.patterns.len(), Relaxed);
    i.subs[2].store(s.shard.len(), Relaxed);
}

fn publish(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now();
    let n = ctx
        .srv
        .signals
        .hub
        .publish(&ctx.argv[1], &ctx.argv[2], now, ctx.client.id);
    Ok(Frame::Integer(n as i64))
}

fn spublish(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now();
    let n = ctx
        .srv
        .signals
        .hub
        .spublish(&ctx.argv[1], &ctx.argv[2], now, ctx.client.id);
    Ok(Frame::Integer(n as i64))
}

fn list_channels(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(crate::error::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&ctx.argv[1])
        )));
    }
    let pattern = ctx.argv.get(2).map(|p| &p[..]);
    let names = ctx.srv.signals.hub.channels(kind, pattern);
    Ok(Frame::Array(names.into_iter().map(Frame::Bulk).collect()))
}

fn counts(ctx: &mut Ctx, kind: Kind) -> CmdResult {
    let names = &ctx.argv[2..];
    let n = ctx.srv.signals.hub.numsub(kind, names);
    let mut out = Vec::with_capacity(names.len() * 2);
    for (name, n) in names.iter().zip(n) {
        out.push(Frame::Bulk(name.clone()));
        out.push(Frame::Integer(n as i64));
    }
    Ok(Frame::Array(out))
}

fn pubsub_channels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx) -> CmdResult {
    list_channels(ctx, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx) -> CmdResult {
    counts(ctx, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx) -> CmdResult {
    counts(ctx, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(
        ctx.srv.signals.hub.count(Kind::Pattern) as i64
    ))
}

fn pubsub_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    ))
}
