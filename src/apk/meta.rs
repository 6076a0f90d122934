//! A package's metadata as an index record, a `.PKGINFO` and the installed database carry
//! it: one owned struct for the packages that are actually installed (the index itself keeps
//! borrowed spans, see [`super::index`]).

/// The metadata of one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    /// `P:` / `pkgname`.
    pub name: String,
    /// `V:` / `pkgver`.
    pub version: String,
    /// `A:` / `arch`.
    pub arch: String,
    /// `C:`: `Q1` + base64 SHA-1 of the control section (empty when unknown).
    pub checksum: String,
    /// `S:`: size of the `.apk` file.
    pub size: u64,
    /// `I:` / `size`: installed size.
    pub installed_size: u64,
    /// `T:` / `pkgdesc`.
    pub description: String,
    /// `U:` / `url`.
    pub url: String,
    /// `L:` / `license`.
    pub license: String,
    /// `o:` / `origin`.
    pub origin: String,
    /// `m:` / `maintainer`.
    pub maintainer: String,
    /// `t:` / `builddate`.
    pub build_time: u64,
    /// `c:` / `commit`.
    pub commit: String,
    /// `k:` / `provider_priority`.
    pub provider_priority: Option<u64>,
    /// `D:` / `depend`.
    pub depends: Vec<String>,
    /// `p:` / `provides`.
    pub provides: Vec<String>,
    /// `i:` / `install_if`.
    pub install_if: Vec<String>,
    /// `r:` / `replaces`.
    pub replaces: Vec<String>,
    /// `.PKGINFO` `datahash`: hex SHA-256 of the data section.
    pub data_hash: Option<String>,
    /// `.PKGINFO` `triggers`: directories whose changes run the package's trigger script.
    pub triggers: Vec<String>,
}

fn words(value: &str) -> Vec<String> {
    value.split_ascii_whitespace().map(String::from).collect()
}

impl Package {
    /// Sets one index/installed-database field (`P`, `V`, …); unknown keys are ignored, as
    /// apk ignores them. `Err` names the field whose value is malformed.
    pub fn set_index_field(&mut self, key: u8, value: &str) -> Result<(), String> {
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("{what} {value:?} is not a number"))
        };
        match key {
            b'P' => self.name = value.to_string(),
            b'V' => self.version = value.to_string(),
            b'A' => self.arch = value.to_string(),
            b'C' => self.checksum = value.to_string(),
            b'S' => self.size = number("S: (size)")?,
            b'I' => self.installed_size = number("I: (installed size)")?,
            b'T' => self.description = value.to_string(),
            b'U' => self.url = value.to_string(),
            b'L' => self.license = value.to_string(),
            b'o' => self.origin = value.to_string(),
            b'm' => self.maintainer = value.to_string(),
            b't' => self.build_time = number("t: (build time)")?,
            b'c' => self.commit = value.to_string(),
            b'k' => self.provider_priority = Some(number("k: (provider priority)")?),
            b'D' => self.depends = words(value),
            b'p' => self.provides = words(value),
            b'i' => self.install_if = words(value).into_iter().filter(|w| w != "[]").collect(),
            b'r' => self.replaces = words(value),
            _ => {}
        }
        Ok(())
    }

    /// Parses a `.PKGINFO` (`key = value` lines, `#` comments).
    pub fn from_pkginfo(text: &str) -> Result<Package, String> {
        let mut p = Package::default();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(" = ").or_else(|| line.split_once('=')) else {
                return Err(format!("line {} is not `key = value`", n + 1));
            };
            let (key, value) = (key.trim(), value.trim());
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("line {}: {key} {value:?} is not a number", n + 1))
            };
            match key {
                "pkgname" => p.name = value.to_string(),
                "pkgver" => p.version = value.to_string(),
                "arch" => p.arch = value.to_string(),
                "size" => p.installed_size = number()?,
                "pkgdesc" => p.description = value.to_string(),
                "url" => p.url = value.to_string(),
                "license" => p.license = value.to_string(),
                "origin" => p.origin = value.to_string(),
                "maintainer" => p.maintainer = value.to_string(),
                "builddate" => p.build_time = number()?,
                "commit" => p.commit = value.to_string(),
                "provider_priority" => p.provider_priority = Some(number()?),
                "depend" => p.depends.extend(words(value)),
                "provides" => p.provides.extend(words(value)),
                "install_if" => p.install_if.extend(words(value)),
                "replaces" => p.replaces.extend(words(value)),
                "triggers" => p.triggers.push(value.to_string()),
                "datahash" => p.data_hash = Some(value.to_string()),
                _ => {}
            }
        }
        if p.name.is_empty() || p.version.is_empty() {
            return Err("it has no pkgname or pkgver".to_string());
        }
        Ok(p)
    }

    /// `name-version`, as apk names a package in messages and file names.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The header lines of this package's record in `lib/apk/db/installed`, in the order
    /// and form apko writes them (empty fields included, `i:[]` for no install_if, `k:`
    /// always present), each ending in a newline.
    pub fn installed_header(&self) -> String {
        let mut out = String::with_capacity(512);
        let mut line = |key: char, value: &str| {
            out.push(key);
            out.push(':');
            out.push_str(value);
            out.push('\n');
        };
        line('P', &self.name);
        line('V', &self.version);
        line('A', &self.arch);
        line('L', &self.license);
        line('T', &self.description);
        line('o', &self.origin);
        line('m', &self.maintainer);
        line('U', &self.url);
        line('D', &self.depends.join(" "));
        line('p', &self.provides.join(" "));
        if !self.replaces.is_empty() {
            line('r', &self.replaces.join(" "));
        }
        line('c', &self.commit);
        line('i', &format!("[{}]", self.install_if.join(" ")));
        line('t', &self.build_time.to_string());
        line('S', &self.size.to_string());
        line('I', &self.installed_size.to_string());
        line('k', &self.provider_priority.unwrap_or(0).to_string());
        if !self.checksum.is_empty() {
            line('C', &self.checksum);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkginfo_fields() {
        let p = Package::from_pkginfo(
            "# Generated by abuild\npkgname = a\npkgver = 1.0-r0\nsize = 12\ndepend = b\ndepend = so:libc.so.6\nprovides = cmd:a=1.0-r0\nreplaces = foo\nreplaces = bar\ndatahash = ab\nprovider_priority = 10\ntriggers = /usr/bin /usr/lib\n",
        )
        .unwrap();
        assert_eq!(p.id(), "a-1.0-r0");
        assert_eq!(p.installed_size, 12);
        assert_eq!(p.depends, ["b", "so:libc.so.6"]);
        assert_eq!(p.replaces, ["foo", "bar"]);
        assert_eq!(p.triggers, ["/usr/bin /usr/lib"]);
        assert_eq!(p.provider_priority, Some(10));
        assert_eq!(p.data_hash.as_deref(), Some("ab"));
        assert_eq!(
            Package::from_pkginfo("pkgname = a\nsize = x\n").unwrap_err(),
            "line 2: size \"x\" is not a number"
        );
    }
}
