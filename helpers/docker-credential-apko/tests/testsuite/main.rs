//! The integration tests of `docker-credential-apko`: one test binary, a module per area.

mod docker_cli;
mod keychain;
mod skopeo_podman;
