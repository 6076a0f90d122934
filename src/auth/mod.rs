//! Credentials: where they come from (helpers, config files, `--auth`) and the tools that
//! inspect, test and move them.

pub mod config;
pub mod conformance;
pub mod credential;
pub mod host;
pub mod inline;
pub mod login;
pub mod migrate;
pub mod resolver;
pub mod write;

pub use credential::Credential;
pub use resolver::{Resolver, Target, TargetKind};
