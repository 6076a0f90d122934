//! A helper never sees secret-carrying environment variables. One test in its own process,
//! because it sets variables in the test process's environment.

use apko_credential::client::{Program, SECRET_ENV_VARS};
use apko_test_support::{SENTINEL, fake_helper};

#[test]
fn secret_variables_are_removed_from_the_helpers_environment() {
    // SAFETY: the only test in this binary, so no other thread reads the environment now.
    unsafe {
        for var in SECRET_ENV_VARS {
            std::env::set_var(var, SENTINEL);
        }
        std::env::set_var("APKO_TEST_HARMLESS", "kept");
    }
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("env");
    let helper = fake_helper(
        dir.path(),
        "env",
        &format!(
            "env > '{}'; echo '{{\"Username\":\"u\",\"Secret\":\"s\"}}'",
            dump.display()
        ),
    );
    Program::new(helper.to_str().unwrap())
        .get("r")
        .unwrap()
        .unwrap();
    let env = std::fs::read_to_string(&dump).unwrap();
    assert!(
        !env.contains(SENTINEL),
        "a secret reached the helper's environment"
    );
    assert!(env.contains("APKO_TEST_HARMLESS=kept\n"));
    assert_eq!(
        SECRET_ENV_VARS,
        [
            "APKO_AUTH",
            "APKO_PASSWORD",
            "HTTP_AUTH",
            "DOCKER_AUTH_CONFIG",
            "REGISTRY_PASSWORD"
        ]
    );
}
