//! The integration tests of `apko-credential`: one test binary, a module per area
//! (`client_env.rs` is a binary of its own: it sets variables in its process environment).

mod client;
mod real_helpers;
mod serve;
