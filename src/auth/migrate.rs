//! `apko auth migrate`: copy every entry from one helper to another (list, get, store), e.g.
//! from secretservice or pass into docker-credential-apko, without ever printing a secret.

use apko_credential::Program;
use std::fmt;

/// What happened to one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored in the destination (or would be, in a dry run).
    Copied,
    /// The destination already had identical credentials.
    Unchanged,
    /// The destination has different credentials and `overwrite` was not given.
    Kept,
    /// Listed by the source but gone when read (another client erased it).
    Vanished,
    /// Reading or storing failed; the text says which and why (no secret in it).
    Failed(String),
}

/// One entry of the source's `list`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The server URL as the source lists it.
    pub server_url: String,
    /// The username the source lists for it.
    pub username: String,
    /// What became of it.
    pub fate: Fate,
}

/// The whole migration.
#[derive(Debug)]
pub struct Migration {
    /// Source helper name.
    pub from: String,
    /// Destination helper name.
    pub to: String,
    /// Every listed entry, in the source's (sorted) order.
    pub entries: Vec<Entry>,
    /// Nothing was written.
    pub dry_run: bool,
}

impl Migration {
    /// True when no entry failed.
    pub fn succeeded(&self) -> bool {
        !self
            .entries
            .iter()
            .any(|e| matches!(e.fate, Fate::Failed(_)))
    }

    fn count(&self, f: impl Fn(&Fate) -> bool) -> usize {
        self.entries.iter().filter(|e| f(&e.fate)).count()
    }
}

impl fmt::Display for Migration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let copied = if self.dry_run { "would copy" } else { "copied" };
        for e in &self.entries {
            let user = if e.username == apko_credential::wire::TOKEN_USERNAME {
                "an identity token".to_string()
            } else {
                format!("user {:?}", e.username)
            };
            match &e.fate {
                Fate::Copied => writeln!(f, "{copied:<10} {} ({user})", e.server_url)?,
                Fate::Unchanged => writeln!(
                    f,
                    "{:<10} {} ({user}; already identical)",
                    "unchanged", e.server_url
                )?,
                Fate::Kept => writeln!(
                    f,
                    "{:<10} {} ({} already has different credentials; --overwrite replaces them)",
                    "kept", e.server_url, self.to
                )?,
                Fate::Vanished => writeln!(
                    f,
                    "{:<10} {} (listed, but gone when read)",
                    "skipped", e.server_url
                )?,
                Fate::Failed(why) => writeln!(f, "{:<10} {}: {why}", "FAILED", e.server_url)?,
            }
        }
        let n = self.count(|x| *x == Fate::Copied);
        write!(
            f,
            "{} {n} of {} entries from {} to {}",
            if self.dry_run { "Would copy" } else { "Copied" },
            self.entries.len(),
            self.from,
            self.to
        )?;
        let others = [
            (self.count(|x| *x == Fate::Unchanged), "unchanged"),
            (self.count(|x| *x == Fate::Kept), "kept"),
            (self.count(|x| *x == Fate::Vanished), "vanished"),
            (self.count(|x| matches!(x, Fate::Failed(_))), "failed"),
        ];
        let others: Vec<String> = others
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        if !others.is_empty() {
            write!(f, " ({})", others.join(", "))?;
        }
        writeln!(f, ".")
    }
}

/// The label docker-credential-secretservice 0.9.x gives its items, which its `list` answers
/// with instead of the server URL.
const SECRETSERVICE_09_LABEL: &str = "Registry credentials for ";

/// Copies every entry `from` lists into `to`. Only `list` failing stops it; a failure on one
/// entry is recorded and the rest are still copied.
pub fn migrate(
    from: &Program,
    to: &Program,
    overwrite: bool,
    dry_run: bool,
) -> Result<Migration, apko_credential::client::Error> {
    let listed = from.list()?;
    let mut entries = Vec::with_capacity(listed.len());
    for (server_url, username) in listed {
        let server_url = match server_url.strip_prefix(SECRETSERVICE_09_LABEL) {
            // docker-credential-secretservice 0.9.x lists its items by label, not by URL.
            Some(url) if !matches!(from.get(&server_url), Ok(Some(_))) => url.to_string(),
            _ => server_url,
        };
        let fate = copy_one(from, to, &server_url, overwrite, dry_run);
        tracing::debug!(server_url, fate = ?fate, "migrate");
        entries.push(Entry {
            server_url,
            username,
            fate,
        });
    }
    Ok(Migration {
        from: from.name().to_string(),
        to: to.name().to_string(),
        entries,
        dry_run,
    })
}

fn copy_one(from: &Program, to: &Program, url: &str, overwrite: bool, dry_run: bool) -> Fate {
    let creds = match from.get(url) {
        Ok(Some(c)) => c,
        Ok(None) => return Fate::Vanished,
        Err(e) => return Fate::Failed(format!("reading it: {e}")),
    };
    // Keep the listed key: some helpers answer without ServerURL, or with a normalized one.
    let creds = apko_credential::Credentials {
        server_url: url.to_string(),
        ..creds
    };
    match to.get(url) {
        Ok(Some(existing))
            if existing.username == creds.username
                && existing.secret.expose() == creds.secret.expose() =>
        {
            return Fate::Unchanged;
        }
        Ok(Some(_)) if !overwrite => return Fate::Kept,
        Ok(_) => {}
        Err(e) => return Fate::Failed(format!("checking the destination: {e}")),
    }
    if dry_run {
        return Fate::Copied;
    }
    match to.store(&creds) {
        Ok(()) => Fate::Copied,
        Err(e) => Fate::Failed(format!("storing it: {e}")),
    }
}
