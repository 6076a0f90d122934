//! The one retry policy of every HTTP client here (registries and APK repositories): which
//! answers are worth asking again, how long to wait (the server's `Retry-After` in either
//! form, else a jittered exponential backoff) and how often.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// Tries after the first for a dropped connection, 408, 429 and 500/502/503/504 (four
/// attempts in all): what a flaky CDN or a registry restarting behind a load balancer needs,
/// and few enough that a host that is down fails within seconds.
pub const RETRIES: u32 = 3;

/// A `Retry-After` longer than this is not waited for: the failure is reported instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether an answer with `status` may succeed when asked again.
pub fn retriable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// How long a `Retry-After` (seconds or an HTTP date) asks to wait.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)))
}

/// Seconds since the epoch of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

/// The wait before try `attempt + 1` (`attempt` counts from 0): 250 ms, 500 ms, 1 s, … (at
/// most 16 s) with up to 25% jitter, so clients that failed together do not retry together.
pub fn backoff(attempt: u32) -> Duration {
    let base = 250u64 << attempt.min(6);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) % (base / 4 + 1));
    Duration::from_millis(base + jitter)
}

/// The wait before trying again after an answer with `headers`: the server's `Retry-After`,
/// else [`backoff`]; `None` when the server asks for longer than `max`.
pub fn wait(attempt: u32, headers: &HeaderMap, max: Duration) -> Option<Duration> {
    let wait = retry_after(headers).unwrap_or_else(|| backoff(attempt));
    (wait <= max).then_some(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(wait(0, &h, MAX_RETRY_AFTER), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        for attempt in 0..8 {
            let base = 250u64 << attempt.min(6);
            let got = backoff(attempt).as_millis() as u64;
            assert!((base..=base + base / 4).contains(&got), "{attempt}: {got}");
        }
    }

    #[test]
    fn which_answers_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retriable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 501, 505] {
            assert!(!retriable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }
}
