//! HTTP transport for the CXTN SDK.
#![deny(missing_docs)]
