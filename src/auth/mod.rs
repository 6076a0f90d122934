//! Credentials: where they come from (helpers, config files, `--auth`) and the tools that
//! inspect, test and move them.

pub mod conformance;
pub mod migrate;
