//! Exact, sans-IO parsing of the notifications CXTN POSTs to webhook endpoints.
//!
//! [`parse`] turns a request body into a [`Notification`](cxtn_model::Notification):
//!
//! - `data` may be an object or a string holding JSON (CXTN sends both); a string is decoded exactly once;
//! - money never passes through a float, and every digit survives ([`Amount`](cxtn_model::Amount));
//! - nothing is dropped: fields this version does not know are kept, in the envelope and in `data`,
//!   and an event this version does not know is kept whole;
//! - every failure is an [`Error`] that names its [`ErrorKind`], the event and field at fault, and where;
//! - no input makes it panic or overflow the stack: invalid UTF-8, deep nesting and large bodies included.
//!
//! [`parse_envelope`] reads only the envelope (`eventId`, `event`), for a body whose `data` does not fit the
//! typed model: a receiver keeps such a body by its `eventId` instead of rejecting it.
//!
//! [`samples::GUIDE`] holds the seven sample notifications of CXTN's guide.
//!
//! [`traffic`] reads and writes captured traffic (the JSON Lines `cxtn inbox export` writes), to load as test
//! fixtures or to replay, plans a replay with duplicates, reordering and bursts, and pseudonymises bodies.
//!
//! This crate does no I/O: it is the parser that the receiver, the CLI and your own code share.
//! Most users want the facade crate `cxtn`, which re-exports it as `cxtn::events`.
//!
//! This crate has no features.
//!
//! ```
//! let body = br#"{
//!     "eventId": "wh_c3f042548b624eb1a0ba9a57be8290f4",
//!     "event": "account_credit",
//!     "data": {"objectId": 661428, "userId": "AP00085025", "source": "account_to_account_transfer",
//!              "origin": "Automatic Allocation", "amount": 10, "baseCcyCode": "GBP", "ccyCode": "GBP",
//!              "transactionDateTime": "2024-02-21T11:58:01.9953917"}
//! }"#;
//! let notification = cxtn_events::parse(body)?;
//! match notification.data() {
//!     cxtn_model::EventData::AccountCredit(credit) => {
//!         assert_eq!(credit.amount.to_string(), "10");
//!         assert!(!credit.is_pot_movement());
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), cxtn_events::Error>(())
//! ```
#![deny(missing_docs)]

mod error;
mod parse;
pub mod samples;
pub mod traffic;

pub use error::{Error, ErrorKind, Location};
pub use parse::{Envelope, parse, parse_envelope};
