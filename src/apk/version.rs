//! apk's version ordering and dependency constraints, as apk-tools compares them: so that
//! the same world resolves to the same packages here and in `apk add`.
//!
//! A version is a sequence of tokens: numbers separated by `.`, an optional letter, suffixes
//! `_alpha`, `_beta`, `_pre`, `_rc` (before the release) and `_cvs`, `_svn`, `_git`, `_hg`,
//! `_p` (after it), each with an optional number, and a `-rN` revision.

use std::cmp::Ordering;

/// Token kinds in apk-tools' order: when two versions agree up to a point, the one whose
/// next token has the greater kind is the older one (`1.0` < `1.0.1`, `1.0-r1` < `1.0a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
    Invalid,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

/// The value of a suffix: negative before the release, zero or more after it.
fn suffix_value(name: &[u8]) -> Option<i8> {
    if let Some(p) = PRE_SUFFIXES.iter().position(|s| s.as_bytes() == name) {
        return Some(p as i8 - PRE_SUFFIXES.len() as i8);
    }
    POST_SUFFIXES
        .iter()
        .position(|s| s.as_bytes() == name)
        .map(|p| p as i8)
}

/// A cursor over a version string that yields apk tokens.
struct Tokens<'a> {
    rest: &'a [u8],
    /// The kind of the token at `rest`.
    kind: Kind,
    /// True while reading the first number (compared numerically even with leading zeros).
    first: bool,
}

impl<'a> Tokens<'a> {
    fn new(version: &'a str) -> Tokens<'a> {
        let rest = version.as_bytes();
        let kind = match rest.first() {
            Some(c) if c.is_ascii_digit() => Kind::Digit,
            _ => Kind::Invalid,
        };
        Tokens {
            rest,
            kind,
            first: true,
        }
    }

    /// Takes the current token's text and decides the kind of the next one.
    fn take(&mut self) -> &'a [u8] {
        let len = match self.kind {
            Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => self
                .rest
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(self.rest.len()),
            Kind::Letter => 1,
            Kind::Suffix => self
                .rest
                .iter()
                .position(|c| !c.is_ascii_lowercase())
                .unwrap_or(self.rest.len()),
            Kind::End | Kind::Invalid => 0,
        };
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        let previous = self.kind;
        if len == 0 && previous != Kind::End {
            self.kind = Kind::Invalid;
            return token;
        }
        let next = match (previous, self.rest) {
            (_, []) => Kind::End,
            (Kind::Digit, [c, ..]) if c.is_ascii_lowercase() => Kind::Letter,
            (Kind::Letter, [c, ..]) if c.is_ascii_digit() => Kind::Digit,
            (Kind::Suffix, [c, ..]) if c.is_ascii_digit() => Kind::SuffixNo,
            (_, [b'.', ..]) => {
                self.rest = &self.rest[1..];
                Kind::Digit
            }
            (_, [b'_', ..]) => {
                self.rest = &self.rest[1..];
                Kind::Suffix
            }
            (_, [b'-', b'r', ..]) => {
                self.rest = &self.rest[2..];
                Kind::RevisionNo
            }
            _ => Kind::Invalid,
        };
        // Tokens only move forward (numbers, letter, suffixes, revision), except a number
        // after a number, a suffix after a suffix number and a number after a letter.
        let allowed_back = matches!(
            (previous, next),
            (Kind::Digit, Kind::Digit)
                | (Kind::SuffixNo, Kind::Suffix)
                | (Kind::Suffix, Kind::Suffix)
                | (Kind::Letter, Kind::Digit)
        );
        self.kind = if next <= previous && !allowed_back {
            Kind::Invalid
        } else {
            next
        };
        if previous == Kind::Suffix && suffix_value(token).is_none() {
            self.kind = Kind::Invalid;
        }
        token
    }
}

/// Compares two tokens of the same kind.
fn compare_token(kind: Kind, a: &[u8], b: &[u8], leading_zero_is_text: bool) -> Ordering {
    match kind {
        Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
            if leading_zero_is_text && (a.first() == Some(&b'0') || b.first() == Some(&b'0')) {
                // `1.01` < `1.1`: a fractional part with leading zeros compares as text.
                return a.cmp(b);
            }
            let trim = |s: &[u8]| -> usize { s.iter().position(|&c| c != b'0').unwrap_or(s.len()) };
            let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        Kind::Suffix => suffix_value(a).cmp(&suffix_value(b)),
        _ => a.cmp(b),
    }
}

/// Compares two versions the way apk-tools does. With `fuzzy`, `b` is a prefix constraint
/// (`~1.2` matches `1.2`, `1.2.9`, `1.2_rc1-r3`, not `1.20`).
fn compare_tokens(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut a = Tokens::new(a);
    let mut b = Tokens::new(b);
    while a.kind == b.kind && a.kind != Kind::End && a.kind != Kind::Invalid {
        let kind = a.kind;
        let text = !a.first && kind == Kind::Digit;
        a.first = false;
        b.first = false;
        let order = compare_token(kind, a.take(), b.take(), text);
        if order != Ordering::Equal {
            return order;
        }
    }
    if a.kind == b.kind || (fuzzy && b.kind == Kind::End) {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is newer unless it goes on with a pre-release suffix.
    let pre_release = |t: &Tokens| {
        t.kind == Kind::Suffix && {
            let end = t.rest.iter().position(|c| !c.is_ascii_lowercase());
            suffix_value(&t.rest[..end.unwrap_or(t.rest.len())]).is_some_and(|v| v < 0)
        }
    };
    if pre_release(&a) {
        return Ordering::Less;
    }
    if pre_release(&b) {
        return Ordering::Greater;
    }
    b.kind.cmp(&a.kind)
}

/// Compares two apk versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_tokens(a, b, false)
}

/// True when `version` is well formed by apk's rules.
pub fn is_valid(version: &str) -> bool {
    let mut t = Tokens::new(version);
    while t.kind != Kind::End && t.kind != Kind::Invalid {
        t.take();
    }
    t.kind == Kind::End
}

/// A version comparison: which outcomes of comparing the package's version with the
/// constraint's satisfy it (apk's `<`, `<=`, `=`, `>=`, `>`, `~`, `><`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Op(u8);

impl Op {
    const LESS: u8 = 1;
    const EQUAL: u8 = 2;
    const GREATER: u8 = 4;
    const FUZZY: u8 = 8;
    /// No version constraint.
    pub const ANY: Op = Op(0);

    /// True when `version` satisfies `self` against `wanted`.
    pub fn matches(self, version: &str, wanted: &str) -> bool {
        if self.0 == 0 {
            return true;
        }
        let bit = match compare_tokens(version, wanted, self.0 & Op::FUZZY != 0) {
            Ordering::Less => Op::LESS,
            Ordering::Equal => Op::EQUAL,
            Ordering::Greater => Op::GREATER,
        };
        self.0 & bit != 0
    }

    /// True when there is no version constraint.
    pub fn is_any(self) -> bool {
        self.0 == 0
    }

    /// The operator as apk writes it.
    pub fn as_str(self) -> &'static str {
        match self.0 {
            0 => "",
            Op::LESS => "<",
            x if x == Op::LESS | Op::EQUAL => "<=",
            Op::EQUAL => "=",
            x if x == Op::GREATER | Op::EQUAL => ">=",
            Op::GREATER => ">",
            x if x == Op::LESS | Op::GREATER => "><",
            _ => "~",
        }
    }
}

/// One dependency, world entry or conflict, borrowed from its text: `name`,
/// `name@tag>=1.2`, `so:libc.musl-x86_64.so.1=1`, `!name<2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dep<'a> {
    /// The name or provided name (`so:…`, `cmd:…`, `pc:…`, virtual names).
    pub name: &'a str,
    /// The comparison; [`Op::ANY`] when there is no version.
    pub op: Op,
    /// The version compared against (empty for [`Op::ANY`]).
    pub version: &'a str,
    /// `@tag`: only repositories with this tag (and untagged ones) may provide it.
    pub tag: Option<&'a str>,
    /// `!name`: must not be installed.
    pub conflict: bool,
}

impl<'a> Dep<'a> {
    /// Parses one dependency; `Err` says what is wrong with it.
    pub fn parse(text: &'a str) -> Result<Dep<'a>, String> {
        let (conflict, rest) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let end = rest.find(['@', '<', '>', '=', '~']).unwrap_or(rest.len());
        let name = &rest[..end];
        if name.is_empty() {
            return Err(format!("{text:?} has no package name"));
        }
        let mut rest = &rest[end..];
        let mut tag = None;
        if let Some(r) = rest.strip_prefix('@') {
            let end = r.find(['<', '>', '=', '~']).unwrap_or(r.len());
            if end == 0 {
                return Err(format!("{text:?} has an empty @tag"));
            }
            tag = Some(&r[..end]);
            rest = &r[end..];
        }
        let ops = rest
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~'))
            .unwrap_or(rest.len());
        let mut op = 0u8;
        for c in rest[..ops].chars() {
            op |= match c {
                '<' => Op::LESS,
                '>' => Op::GREATER,
                '=' => Op::EQUAL,
                _ => Op::FUZZY | Op::EQUAL,
            };
        }
        let version = &rest[ops..];
        if op == 0 && !version.is_empty() {
            return Err(format!("{text:?} is not a valid dependency"));
        }
        if op != 0 && !is_valid(version) {
            return Err(format!(
                "{text:?} has an invalid version {version:?} (apk versions look like 1.2.3_rc1-r0)"
            ));
        }
        Ok(Dep {
            name,
            op: Op(op),
            version,
            tag,
            conflict,
        })
    }

    /// True when a package (or a provide) of `version` satisfies the version part.
    pub fn matches_version(&self, version: &str) -> bool {
        self.op.matches(version, self.version)
    }
}

impl std::fmt::Display for Dep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(self.name)?;
        if let Some(tag) = self.tag {
            write!(f, "@{tag}")?;
        }
        write!(f, "{}{}", self.op.as_str(), self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, op: &str, b: &str) {
        let expected = match op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            _ => Ordering::Greater,
        };
        assert_eq!(compare(a, b), expected, "{a} {op} {b}");
        assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
    }

    /// Pairs in the style of apk-tools' test/version.data.
    #[test]
    fn ordering_vectors() {
        for line in [
            "1.0 = 1.0",
            "1.0 < 1.1",
            "1.0 < 1.0.1",
            "2.34 > 0.1.0_alpha",
            "1.9 < 1.10",
            "1.0_alpha < 1.0_beta",
            "1.0_beta < 1.0_pre",
            "1.0_pre < 1.0_rc",
            "1.0_rc < 1.0",
            "1.0 < 1.0_cvs",
            "1.0_cvs < 1.0_svn",
            "1.0_svn < 1.0_git",
            "1.0_git < 1.0_hg",
            "1.0_hg < 1.0_p",
            "1.0_p1 < 1.0_p2",
            "1.0_p9 < 1.0_p10",
            "1.0_rc1 < 1.0_rc2",
            "1.0_alpha1 > 1.0_alpha",
            "1.0 < 1.0-r1",
            "1.0-r9 < 1.0-r10",
            "1.0-r1 < 1.0.1",
            "1.0-r100 < 1.0_p1",
            "1.0a > 1.0",
            "1.0a < 1.0b",
            "1.0a < 1.0.1",
            "1.0a-r1 > 1.0a",
            "1.01 < 1.1",
            "1.001 < 1.01",
            "1.2.3_rc1 < 1.2.3",
            "1.2.3_rc1-r1 > 1.2.3_rc1-r0",
            "2.12.1-r0 > 2.12-r0",
            "20230201-r23 > 20230101-r30",
            "1.35.0_git20220101-r1 > 1.35.0-r17",
            "1.35.0-r17 > 1.35.0_rc2-r20",
            "3.0.5-r0 < 3.0.10-r0",
            "0.2 > 0.1.9999",
            "1.2_alpha_pre < 1.2_alpha",
            "6.3_p20220423-r1 > 6.3-r9",
            "1.2.3 = 1.2.3",
            // Edge cases of the kind apk-tools' test/version.data covers.
            "23_foo > 4_beta",
            "1.0 < 1.0bc",
            "1.06-r6 < 006",
            "006 > 1.0.0",
            "3.0.0-r2 < 021109-r3",
            "0.9.28.1 < 087-r1",
            "1.2.07.8 < 1.2.12.04",
            "02.08.01b < 4.77",
            "0.01 < 0.06",
            "1.07 < 1.19",
            "1.07.5 > 1.07",
            "4.01 < 4.20",
            "0.98 < 1.00",
            "2.01.01_alpha10 > 0.94",
            "0.20070118 < 0.20070207_rc1",
            "2.5.1-r8 < 2.5.1a-r1",
            "2.12r-r4 < 2.12r-r5",
            "0.59s-r11 < 0.65",
            "1.6d > 1.2.07.8",
            "1.7 < 1.7b",
            "1.3_pre1-r1 < 1.3.2",
            "0.1.0_alpha_pre2 < 0.1.0_alpha",
            "1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0",
            "2.9.11_pre20051101-r3 > 2.9.11_pre20051101",
            "1.6.8_p12-r1 > 1.6.8_p9-r2",
            "3.0.20060720 < 20060720",
            "0.10.0 < 0.10.1_rc1",
            "1.0_p10-r0 > 1.0_p9-r0",
            "4.5_p1-r1 > 4.5_p1",
            "7.0.17 < 7.0.174",
        ] {
            let parts: Vec<&str> = line.split(' ').collect();
            check(parts[0], parts[1], parts[2]);
        }
    }

    #[test]
    fn validity() {
        for v in [
            "1",
            "1.2.3",
            "1.2.3a",
            "1.2_rc1",
            "1.2_rc1_p2-r3",
            "20230201-r23",
            "0.0.1-r0",
        ] {
            assert!(is_valid(v), "{v}");
        }
        for v in ["", "1.2-", "1.2_foo", "1.2-x1", "1.2 3"] {
            assert!(!is_valid(v), "{v}");
        }
    }

    #[test]
    fn constraints() {
        let d = Dep::parse("busybox>=1.35.0-r17").unwrap();
        assert_eq!(
            (d.name, d.op.as_str(), d.version, d.tag, d.conflict),
            ("busybox", ">=", "1.35.0-r17", None, false)
        );
        assert!(d.matches_version("1.35.0-r17"));
        assert!(d.matches_version("1.36.1-r0"));
        assert!(!d.matches_version("1.35.0-r16"));

        let d = Dep::parse("so:libc.musl-x86_64.so.1").unwrap();
        assert_eq!((d.name, d.op), ("so:libc.musl-x86_64.so.1", Op::ANY));
        assert!(d.matches_version("anything"));

        let d = Dep::parse("foo@edge=2.0-r0").unwrap();
        assert_eq!(
            (d.name, d.tag, d.op.as_str(), d.version),
            ("foo", Some("edge"), "=", "2.0-r0")
        );
        assert_eq!(d.to_string(), "foo@edge=2.0-r0");
        assert!(d.matches_version("2.0-r0") && !d.matches_version("2.0-r1"));

        let d = Dep::parse("!bar<2").unwrap();
        assert!(d.conflict);
        assert_eq!(d.to_string(), "!bar<2");
        assert!(d.matches_version("1.9") && !d.matches_version("2") && !d.matches_version("3"));

        let d = Dep::parse("baz><1.0").unwrap();
        assert!(d.matches_version("0.9") && d.matches_version("1.1") && !d.matches_version("1.0"));

        let d = Dep::parse("q<=1.0").unwrap();
        assert!(
            d.matches_version("1.0") && d.matches_version("0.1") && !d.matches_version("1.0-r1")
        );
        let d = Dep::parse("q>1.0").unwrap();
        assert!(!d.matches_version("1.0") && d.matches_version("1.0-r1"));
        let d = Dep::parse("q<1.0").unwrap();
        assert!(d.matches_version("1.0_rc1") && !d.matches_version("1.0"));

        let d = Dep::parse("musl~1.2").unwrap();
        for ok in ["1.2", "1.2.3", "1.2.3-r4", "1.2_rc1", "1.2-r0"] {
            assert!(d.matches_version(ok), "{ok}");
        }
        for no in ["1.20", "1.3", "1.1.9", "2"] {
            assert!(!d.matches_version(no), "{no}");
        }

        assert_eq!(
            Dep::parse("=1.0").unwrap_err(),
            "\"=1.0\" has no package name"
        );
        assert_eq!(
            Dep::parse("foo=1.x").unwrap_err(),
            "\"foo=1.x\" has an invalid version \"1.x\" (apk versions look like 1.2.3_rc1-r0)"
        );
        assert_eq!(
            Dep::parse("foo@").unwrap_err(),
            "\"foo@\" has an empty @tag"
        );
    }
}
