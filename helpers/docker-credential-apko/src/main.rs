//! The `docker-credential-apko` program.

fn main() {
    docker_credential_apko::main()
}
