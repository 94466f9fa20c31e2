//! rubedo-engine: the data model and the keyspace, independent of any network code.
//!
//! It knows nothing of sockets, tokio or the wire protocol, so it can be
//! embedded in another program. The [`Keyspace`] trait has two
//! implementations with the same observable behaviour:
//! [`SingleKeyspace`] (one thread owns plain tables) and
//! [`ConcurrentKeyspace`] (sharded tables behind mutexes, locked in a fixed
//! order). The data-type operations in [`types`] work on the [`Db`] view and
//! are shared by both.

pub mod clock;
pub mod concurrent;
pub mod dict;
pub mod error;
pub mod glob;
pub mod keyspace;
pub mod observe;
pub mod single;
pub mod table;
pub mod types;
pub mod value;

pub use clock::{Clock, ManualClock, SystemClock};
pub use concurrent::ConcurrentKeyspace;
pub use dict::{Dict, Key};
pub use error::{Error, Result};
pub use keyspace::{Db, Dbs, Keyspace, Scope, WalkFn, WalkPos};
pub use observe::Observer;
pub use single::SingleKeyspace;
pub use table::{Events, Table};
pub use value::{Entry, Kind, Str, Value};
