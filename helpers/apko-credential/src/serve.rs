//! The helper side: turn a [`Helper`] into a complete `docker-credential-*` program.

use crate::wire::{
    Action, CredentialList, Credentials, ERR_MISSING_SERVER_URL, ERR_MISSING_USERNAME,
    ERR_NOT_FOUND, is_help_flag, parse_server_url,
};
use std::io::{Read, Write};

/// Why a helper operation failed. The first three variants print the protocol's exact texts,
/// which clients match on; everything else is [`Error::Other`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing is stored for the server URL. Clients treat this as "no credentials", not a failure.
    #[error("{ERR_NOT_FOUND}")]
    NotFound,
    /// The request carried no server URL.
    #[error("{ERR_MISSING_SERVER_URL}")]
    MissingServerUrl,
    /// A `store` request carried no username.
    #[error("{ERR_MISSING_USERNAME}")]
    MissingUsername,
    /// Anything else: the message (never a secret) is printed to stdout with exit 1.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An [`Error::Other`] from anything printable.
    pub fn other(message: impl std::fmt::Display) -> Self {
        Error::Other(message.to_string())
    }
}

/// Name and version a helper reports for `version`, `--version` and `--help`.
#[derive(Clone, Copy, Debug)]
pub struct HelperInfo {
    /// Program name, e.g. `docker-credential-apko`.
    pub name: &'static str,
    /// Where it comes from, e.g. a repository path.
    pub package: &'static str,
    /// Its version.
    pub version: &'static str,
}

/// A credential store. Four methods, as in docker-credential-helpers; `serve` does the rest.
pub trait Helper {
    /// Identification for `version` and the usage line.
    fn info(&self) -> HelperInfo;
    /// Saves `creds`, replacing any entry with the same server URL. Never called with an
    /// empty server URL or username.
    fn add(&self, creds: &Credentials) -> Result<(), Error>;
    /// The entry stored under exactly `server_url`, or [`Error::NotFound`].
    fn get(&self, server_url: &str) -> Result<Credentials, Error>;
    /// Deletes the entry stored under `server_url`. What a missing entry gives is up to the
    /// helper: `Ok(())` or [`Error::NotFound`] are the two answers clients understand.
    fn erase(&self, server_url: &str) -> Result<(), Error>;
    /// Every stored server URL with its username.
    fn list(&self) -> Result<CredentialList, Error>;
}

/// Runs one helper invocation: `args` are the program's arguments without `argv[0]`.
/// Returns the process exit code; every answer, including errors, goes to `stdout`.
///
/// A helper binary's `main` is
/// `std::process::exit(serve(&MyHelper, std::env::args().skip(1), std::io::stdin().lock(), std::io::stdout().lock()))`.
pub fn serve<I, S>(helper: &dyn Helper, args: I, stdin: impl Read, mut stdout: impl Write) -> i32
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let info = helper.info();
    let args: Vec<S> = args.into_iter().collect();
    let usage = format!("Usage: {} <store|get|erase|list|version>", info.name);
    let (code, text) = match args.as_slice() {
        [word] if is_help_flag(word.as_ref()) => (0, Some(usage)),
        [word] => match Action::parse(word.as_ref()) {
            Some(action) => match handle(helper, action, stdin) {
                Ok(output) => (0, output),
                Err(e) => (1, Some(e.to_string())),
            },
            None => (
                1,
                Some(format!("{}: unknown action: {}", info.name, word.as_ref())),
            ),
        },
        _ => (1, Some(usage)),
    };
    if let Some(text) = text {
        // A closed stdout is the client's problem; there is nobody left to tell.
        let _ = writeln!(stdout, "{text}").and_then(|_| stdout.flush());
    }
    code
}

fn handle(
    helper: &dyn Helper,
    action: Action,
    mut stdin: impl Read,
) -> Result<Option<String>, Error> {
    let read_input = |stdin: &mut dyn Read| -> Result<String, Error> {
        let mut raw = Vec::new();
        stdin
            .read_to_end(&mut raw)
            .map_err(|e| Error::other(format!("reading stdin: {e}")))?;
        String::from_utf8(raw).map_err(|_| Error::other("stdin is not valid UTF-8"))
    };
    match action {
        Action::Store => {
            let input = read_input(&mut stdin)?;
            let creds = parse_store_input(&input)?;
            helper.add(&creds)?;
            Ok(None)
        }
        Action::Get => {
            let url = parse_server_url(&read_input(&mut stdin)?).ok_or(Error::MissingServerUrl)?;
            let mut creds = helper.get(&url)?;
            if creds.server_url.is_empty() {
                creds.server_url = url;
            }
            Ok(Some(to_json(&creds)?))
        }
        Action::Erase => {
            let url = parse_server_url(&read_input(&mut stdin)?).ok_or(Error::MissingServerUrl)?;
            helper.erase(&url)?;
            Ok(None)
        }
        Action::List => Ok(Some(to_json(&helper.list()?)?)),
        Action::Version => {
            let info = helper.info();
            Ok(Some(format!(
                "{} ({}) {}",
                info.name, info.package, info.version
            )))
        }
    }
}

/// Decodes a `store` payload: the first JSON value on stdin (pretty-printed or not; anything
/// after it is ignored, as Go helpers do), then validated.
pub fn parse_store_input(input: &str) -> Result<Credentials, Error> {
    if input.trim().is_empty() {
        return Err(Error::other("store: stdin holds no JSON object"));
    }
    let mut values = serde_json::Deserializer::from_str(input).into_iter::<Credentials>();
    let creds = match values.next() {
        Some(Ok(creds)) => creds,
        Some(Err(e)) => {
            let why = crate::wire::describe_json_error(&e);
            return Err(Error::other(format!("store: invalid JSON on stdin: {why}")));
        }
        None => return Err(Error::other("store: stdin holds no JSON object")),
    };
    if creds.server_url.trim().is_empty() {
        return Err(Error::MissingServerUrl);
    }
    if creds.username.is_empty() {
        return Err(Error::MissingUsername);
    }
    Ok(creds)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::other(format!("encoding answer: {e}")))
}
