//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1): several challenges per header and per
//! response, quoted strings with `\` escapes, case-insensitive scheme and parameter names.
//!
//! Standalone and total: any input gives a (possibly empty) list, never a panic, because the
//! header comes from the network.

/// One challenge, e.g. `Bearer realm="https://auth.example/token",service="registry"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased: `basic`, `bearer`.
    pub scheme: String,
    /// Parameters in order, names lowercased, values unquoted and unescaped.
    pub params: Vec<(String, String)>,
    /// A `token68` instead of parameters (`Negotiate YII=`), if any.
    pub token68: Option<String>,
}

impl Challenge {
    /// The first parameter called `name` (give it lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every challenge in every given header value, in order.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    values.into_iter().flat_map(parse).collect()
}

/// Every challenge in one header value. Malformed parts are skipped.
pub fn parse(value: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_separators();
        if p.at_end() {
            return out;
        }
        let Some(scheme) = p.token() else {
            // Not a token: skip this word and try again.
            while p.peek().is_some_and(|c| !matches!(c, b' ' | b'\t' | b',')) {
                p.i += 1;
            }
            continue;
        };
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
            token68: None,
        };
        // Parameters follow, comma-separated, until a token that is not followed by `=`
        // (the next scheme).
        let mut first = true;
        loop {
            let mark = p.i;
            p.skip_whitespace();
            if !first {
                if p.peek() != Some(b',') {
                    p.i = mark;
                    break;
                }
                p.skip_separators();
            } else if p.i == mark && !p.at_end() && p.peek() != Some(b',') {
                // The scheme must be followed by whitespace, a comma or the end.
                p.skip_until_comma();
                break;
            }
            if p.at_end() {
                break;
            }
            let before = p.i;
            match p.param() {
                Param::Pair(name, value) => challenge.params.push((name, value)),
                Param::Token68(t) if first => {
                    challenge.token68 = Some(t);
                    break;
                }
                Param::Token68(_) | Param::NextScheme => {
                    // The start of the next challenge.
                    p.i = before;
                    break;
                }
                Param::Garbage => p.skip_until_comma(),
            }
            first = false;
        }
        out.push(challenge);
    }
}

enum Param {
    Pair(String, String),
    Token68(String),
    NextScheme,
    Garbage,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn skip_until_comma(&mut self) {
        while let Some(c) = self.peek() {
            if c == b',' {
                return;
            }
            if c == b'"' {
                self.quoted();
            } else {
                self.i += 1;
            }
        }
    }

    /// RFC 9110 `token`.
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string starting at `"`; unterminated strings run to the end.
    fn quoted(&mut self) -> String {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        out.push(escaped);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `name = value`, or a token68, or whatever else is here.
    fn param(&mut self) -> Param {
        let start = self.i;
        let Some(name) = self.token() else {
            return Param::Garbage;
        };
        let after_name = self.i;
        self.skip_whitespace();
        if self.peek() != Some(b'=') {
            self.i = after_name;
            return Param::NextScheme;
        }
        self.i += 1;
        // `token68` ends in `=` padding: `abc==` followed by a comma, whitespace or the end.
        if matches!(self.peek(), Some(b'=') | None | Some(b',')) && after_name == self.i - 1 {
            while self.peek() == Some(b'=') {
                self.i += 1;
            }
            let end = self.i;
            self.skip_whitespace();
            if self.at_end() || self.peek() == Some(b',') {
                return Param::Token68(String::from_utf8_lossy(&self.s[start..end]).into_owned());
            }
            return Param::Garbage;
        }
        self.skip_whitespace();
        let value = match self.peek() {
            Some(b'"') => self.quoted(),
            _ => match self.token() {
                Some(t) => t,
                None => return Param::Garbage,
            },
        };
        Param::Pair(name.to_ascii_lowercase(), value)
    }
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn distribution_bearer() {
        let c = parse(
            r#"Bearer realm="http://127.0.0.1:5001/token",service="test-registry",scope="repository:a/b:pull,push",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(
            pairs(&c[0]),
            [
                ("realm", "http://127.0.0.1:5001/token"),
                ("service", "test-registry"),
                ("scope", "repository:a/b:pull,push"),
                ("error", "insufficient_scope"),
            ]
        );
        assert_eq!(c[0].param("service"), Some("test-registry"));
        assert_eq!(c[0].param("nope"), None);
    }

    #[test]
    fn basic_and_case() {
        let c = parse(r#"BASIC Realm="basic-realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(pairs(&c[0]), [("realm", "basic-realm")]);
    }

    #[test]
    fn several_challenges_in_one_header() {
        let c = parse(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Bearer realm="https://a/t",service=s"#,
        );
        let schemes: Vec<&str> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["newauth", "basic", "bearer"]);
        assert_eq!(
            pairs(&c[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", "Login to \"apps\"")
            ]
        );
        assert_eq!(pairs(&c[1]), [("realm", "simple")]);
        assert_eq!(pairs(&c[2]), [("realm", "https://a/t"), ("service", "s")]);
    }

    #[test]
    fn token68_and_bare_schemes() {
        let c = parse("Negotiate YIIBhg==, Basic realm=x, NTLM");
        assert_eq!(c[0].scheme, "negotiate");
        assert_eq!(c[0].token68.as_deref(), Some("YIIBhg=="));
        assert_eq!(c[1].scheme, "basic");
        assert_eq!(pairs(&c[1]), [("realm", "x")]);
        assert_eq!(c[2].scheme, "ntlm");
        assert!(c[2].params.is_empty());
    }

    #[test]
    fn whitespace_around_equals_and_commas() {
        let c = parse(r#"  Bearer   realm = "r" ,  ,service= s ,"#);
        assert_eq!(c.len(), 1);
        assert_eq!(pairs(&c[0]), [("realm", "r"), ("service", "s")]);
    }

    #[test]
    fn escapes_and_commas_in_quotes() {
        let c = parse(r#"Bearer realm="a,b\\c\"d", scope="x y""#);
        assert_eq!(pairs(&c[0]), [("realm", r#"a,b\c"d"#), ("scope", "x y")]);
    }

    #[test]
    fn several_header_lines() {
        let c = parse_all([r#"Basic realm="r""#, r#"Bearer realm="t""#]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].scheme, "bearer");
    }

    #[test]
    fn malformed_input_never_panics() {
        for input in [
            "",
            ",",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer realm=",
            "Bearer =x",
            "Bearer realm=\"\\",
            "@@@ Basic realm=r",
            "Basic realm=r, ===, Bearer",
            "Basic\u{0}realm=r",
            "Bearer realm=\"ü\"",
        ] {
            let _ = parse(input);
        }
        assert_eq!(
            parse("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
        let c = parse("@@@ Basic realm=r");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "basic");
        // Deterministic pseudo-random bytes from the grammar's alphabet.
        let alphabet = b"Bearer realm=\"\\, \t=;/abc";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let _ = parse(&String::from_utf8_lossy(&s));
        }
    }
}
