//! A value that must never be printed.

use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

/// A secret (password, token) that cannot leak through `Debug`, `Display` or logs.
///
/// It has no `Display`, its `Debug` prints `Secret(<redacted>)`, it is wiped from memory
/// when dropped, and the only way to read it is [`Secret::expose`], which makes every
/// place that handles the plain value easy to find in review.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    /// The plain value. Call it only where the value goes to its one intended destination.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Transforms the inner value, keeping the result secret.
    pub fn map<U: Zeroize>(&self, f: impl FnOnce(&T) -> U) -> Secret<U> {
        Secret(f(&self.0))
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl Secret<String> {
    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::from("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s:#?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn serializes_transparently() {
        let s = Secret::from("a\"b".to_string());
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""a\"b""#);
        let back: Secret<String> = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(back.expose(), "x");
    }
}
