//! The list of known differences: the table of `docs/apko-differences.md`, its globs, and
//! the cells of the report.

use std::collections::BTreeSet;
use std::path::Path;

pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) globs: Vec<String>,
    pub(crate) status: String,
}

/// The rows of the table in `docs/apko-differences.md`: `id | matches | status | reason`,
/// each glob of `matches` in backticks.
pub(crate) fn known_rows(root: &Path) -> Vec<Row> {
    let path = root.join("docs/apko-differences.md");
    let text = std::fs::read_to_string(&path).expect("docs/apko-differences.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if !line.starts_with('|') || cells[0] == "id" || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(
            cells.len(),
            4,
            "a row needs 4 cells (no `|` inside): {line}"
        );
        let globs: Vec<String> = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect();
        assert!(
            !globs.is_empty(),
            "row {} has no `glob` in matches",
            cells[0]
        );
        assert!(
            cells[2] == "intentional" || cells[2] == "open",
            "row {}: status must be intentional or open, not {}",
            cells[0],
            cells[2]
        );
        rows.push(Row {
            id: cells[0].to_string(),
            globs,
            status: cells[2].to_string(),
        });
    }
    assert!(!rows.is_empty(), "no rows in {}", path.display());
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "row ids must be unique");
    rows
}

/// `*` matches any run of characters, `?` one; all else is literal.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

pub(crate) fn cell(s: &str) -> String {
    let s = s.replace('|', "\\|").replace('\n', "⏎");
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}
