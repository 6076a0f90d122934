//! The keys credentials are stored under, and how a host matches them: docker/cli's
//! `getAuthConfigKey` and `ConvertToHostname`, containers-auth.json's namespaced keys.

/// The registry every unqualified image reference means, and the name Docker Hub's other
/// names fold into.
pub const DOCKER_HUB: &str = "docker.io";

/// The key Docker Hub credentials live under (docker/cli `IndexServer`).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Folds Docker Hub's other names into [`DOCKER_HUB`] and lowercases: what "the same
/// registry" means for references and credential keys alike.
pub fn normalize_registry(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => lower,
    }
}

/// The key `docker login`, `credsStore` and `credHelpers` use for `host` (docker/cli
/// `getAuthConfigKey`): Docker Hub's names become [`DOCKER_HUB_KEY`], others are unchanged.
pub fn auth_config_key(host: &str) -> String {
    if normalize_registry(host) == DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// The host (with port) of a key that may be a URL or carry a path (docker/cli
/// `ConvertToHostname`): `https://r:5000/v2/` → `r:5000`, `r/ns/img` → `r`.
pub fn convert_to_hostname(key: &str) -> String {
    let rest = key.split_once("://").map_or(key, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    // Userinfo is not part of the host.
    host.rsplit_once('@')
        .map_or(host, |(_, h)| h)
        .to_ascii_lowercase()
}

/// The host a key names, with Docker Hub's names folded: what "the same registry" means.
pub fn key_host(key: &str) -> String {
    if key == DOCKER_HUB_KEY {
        return DOCKER_HUB.to_string();
    }
    normalize_registry(&convert_to_hostname(key))
}

/// The keys `credHelpers` may use for `host`, best first: docker's key, then the bare host
/// (containers-auth.json writes `docker.io`), then Hub's other names.
pub fn helper_keys(host: &str) -> Vec<String> {
    let mut keys = vec![auth_config_key(host)];
    if normalize_registry(host) == DOCKER_HUB {
        keys.extend(["docker.io", "index.docker.io", "registry-1.docker.io"].map(String::from));
    } else if keys[0] != host {
        keys.push(host.to_string());
    }
    keys
}

/// Exact `auths` keys for `host` and `repository`, most specific first (containers-auth.json:
/// `reg/ns/img` before `reg/ns` before `reg`), then docker's key.
pub fn exact_auth_keys(host: &str, repository: Option<&str>) -> Vec<String> {
    let names: Vec<String> = if normalize_registry(host) == DOCKER_HUB {
        vec!["docker.io".into(), "index.docker.io".into()]
    } else {
        vec![host.to_string()]
    };
    let mut keys = Vec::new();
    if let Some(repo) = repository {
        let parts: Vec<&str> = repo.split('/').collect();
        for n in (1..=parts.len()).rev() {
            for name in &names {
                keys.push(format!("{name}/{}", parts[..n].join("/")));
            }
        }
    }
    keys.push(auth_config_key(host));
    for name in names {
        if !keys.contains(&name) {
            keys.push(name);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_normalization() {
        assert_eq!(auth_config_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(auth_config_key("index.docker.io"), DOCKER_HUB_KEY);
        assert_eq!(auth_config_key("r.example:5000"), "r.example:5000");
        assert_eq!(convert_to_hostname("https://reg:5000/v2/"), "reg:5000");
        assert_eq!(convert_to_hostname("reg/foo/bar"), "reg");
        assert_eq!(convert_to_hostname("http://r.example"), "r.example");
        assert_eq!(key_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(key_host("registry-1.docker.io"), "docker.io");
    }

    #[test]
    fn namespaced_keys_most_specific_first() {
        assert_eq!(
            exact_auth_keys("quay.io", Some("org/repo")),
            ["quay.io/org/repo", "quay.io/org", "quay.io"]
        );
        assert_eq!(
            exact_auth_keys("docker.io", Some("library/alpine")),
            [
                "docker.io/library/alpine",
                "index.docker.io/library/alpine",
                "docker.io/library",
                "index.docker.io/library",
                DOCKER_HUB_KEY,
                "docker.io",
                "index.docker.io"
            ]
        );
        assert_eq!(helper_keys("r.example:5000"), ["r.example:5000"]);
        assert_eq!(
            helper_keys("docker.io"),
            [
                DOCKER_HUB_KEY,
                "docker.io",
                "index.docker.io",
                "registry-1.docker.io"
            ]
        );
    }
}
