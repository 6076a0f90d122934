//! CPU architectures as apko names them: configs may say `x86_64` (apk) or `amd64` (OCI), and
//! the two namings meet in repository paths (apk) and image platforms (OCI).

use std::fmt;

/// An architecture in apko's canonical (OCI-style) spelling: `amd64`, `arm64`, `arm/v7`…
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arch(String);

/// Every architecture `--arch all` means, in apko's order.
pub const ALL: [&str; 9] = [
    "386", "amd64", "arm64", "arm/v6", "arm/v7", "loong64", "ppc64le", "riscv64", "s390x",
];

impl Arch {
    /// Reads apk or OCI spelling (`x86_64` → `amd64`); other names are kept as written, as
    /// apko does, and fail later if no repository serves them.
    pub fn parse(name: &str) -> Arch {
        Arch(
            match name {
                "x86" | "386" => "386",
                "x86_64" | "amd64" => "amd64",
                "aarch64" | "arm64" => "arm64",
                "armhf" | "arm/v6" => "arm/v6",
                "armv7" | "arm/v7" => "arm/v7",
                "loongarch64" | "loong64" => "loong64",
                other => other,
            }
            .to_string(),
        )
    }

    /// The machine this runs on (`--arch host`).
    pub fn host() -> Arch {
        Arch::parse(std::env::consts::ARCH)
    }

    /// The OCI name (`amd64`, `arm/v7`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The apk name used in repository paths and `/etc/apk/arch` (`x86_64`, `armv7`).
    pub fn to_apk(&self) -> &str {
        match self.0.as_str() {
            "386" => "x86",
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "arm/v6" => "armhf",
            "arm/v7" => "armv7",
            "loong64" => "loongarch64",
            other => other,
        }
    }

    /// The OCI platform `(architecture, variant)`.
    pub fn oci_platform(&self) -> (&str, Option<&str>) {
        match self.0.as_str() {
            "arm/v6" => ("arm", Some("v6")),
            "arm/v7" => ("arm", Some("v7")),
            other => (other, None),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `--arch` values (`x86_64,aarch64`, `host`, `all`) → deduplicated, sorted architectures, as
/// apko's `ParseArchitectures`.
pub fn parse_list(values: &[String]) -> Vec<Arch> {
    let mut archs = parse_list_in_order(values);
    archs.sort();
    archs.dedup();
    archs
}

/// The architectures a command works on: `--arch` values (sorted, as apko parses the flag),
/// else the config's `archs` in their order (as apko keeps them), else all.
pub fn select(flag: &[String], config: &[String]) -> Vec<Arch> {
    if !flag.is_empty() {
        return parse_list(flag);
    }
    if config.is_empty() {
        return parse_list(&["all".into()]);
    }
    let mut archs: Vec<Arch> = Vec::new();
    for a in parse_list_in_order(config) {
        if !archs.contains(&a) {
            archs.push(a);
        }
    }
    archs
}

/// The same, in the order given and with repeats kept (the config's `archs`, which apko
/// does not sort).
pub fn parse_list_in_order(values: &[String]) -> Vec<Arch> {
    let names: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if names == ["all"] {
        return ALL.iter().map(|a| Arch::parse(a)).collect();
    }
    names
        .iter()
        .map(|n| {
            if *n == "host" {
                Arch::host()
            } else {
                Arch::parse(n)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apk_and_oci_names() {
        let a = Arch::parse("x86_64");
        assert_eq!((a.as_str(), a.to_apk()), ("amd64", "x86_64"));
        let v7 = Arch::parse("armv7");
        assert_eq!(v7.oci_platform(), ("arm", Some("v7")));
        assert_eq!(v7.to_apk(), "armv7");
        assert_eq!(
            parse_list(&["aarch64,x86_64".into(), "amd64".into()]),
            [Arch::parse("amd64"), Arch::parse("arm64")]
        );
        assert_eq!(parse_list(&["all".into()]).len(), 9);
    }
}
