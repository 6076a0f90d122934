//! The integration tests of `apko`: one test binary (linked once), a module per area, one
//! support API ([`support`]). Run one area with `cargo test --test testsuite AREA::`, e.g.
//! `cargo test --test testsuite lock::`.

mod support;

mod apk_example;
mod apk_faults;
mod apk_hostile_packages;
mod apk_http;
mod apk_index;
mod apk_install;
mod apk_package;
mod apk_resolve;
mod auth_sources;
mod auth_test_helper;
mod build_busybox;
mod build_certificates;
mod build_layer;
mod build_ldso_cache;
mod build_memory;
mod build_minirootfs;
mod build_output;
mod build_real;
mod build_sbom;
mod cli_parity;
mod cli_reference;
mod differential;
mod ecosystem;
mod helper_faults;
mod hostile_servers;
mod leak_scan;
mod load_and_disk;
mod lock;
mod login_files;
mod login_interop;
mod login_secrets;
mod registry_baseimage;
mod registry_credentials;
mod registry_faults;
mod registry_network_faults;
mod registry_publish;
mod registry_push_pull;
mod registry_tls;
mod registry_token;
mod resolution_oracles;
mod resolver_matrix;

/// Not a test: the process [`support::peak::run`] starts to measure one child's memory.
#[test]
fn trampoline() {
    support::peak::trampoline();
}
