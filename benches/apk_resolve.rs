//! Reading the whole Alpine 3.16 index and resolving `alpine-base`, against `gunzip` of the
//! same file (the goal: within 3x). Prints medians of repeated runs.

use apko::apk::index::Index;
use apko::apk::resolve::{PackageResolver, Source};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 31;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/apk/alpine-316/APKINDEX.tar.gz"
    );
    let bytes = std::fs::read(path).expect("the Alpine 3.16 index from ../shared/testdata");
    let world = vec!["alpine-base".to_string()];

    let mut resolve = Vec::new();
    let mut parse_only = Vec::new();
    let mut count = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let index = Index::from_targz(&bytes, None, "alpine-316").unwrap();
        parse_only.push(start.elapsed());
        let resolver = PackageResolver::new(vec![Source {
            index: &index,
            tag: None,
            installed: false,
        }]);
        count = resolver.resolve(&world).unwrap().len();
        resolve.push(start.elapsed());
    }

    let mut inflate = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        inflate.push(start.elapsed());
    }

    let mut gunzip = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let status = Command::new("gunzip")
            .arg("-c")
            .arg(path)
            .stdout(Stdio::null())
            .status()
            .expect("gunzip (Debian's gzip)");
        assert!(status.success());
        gunzip.push(start.elapsed());
    }

    let (r, p, i, g) = (
        median(resolve),
        median(parse_only),
        median(inflate),
        median(gunzip),
    );
    println!(
        "Alpine 3.16 x86_64 index: {} bytes, alpine-base resolves to {count} packages; medians of {RUNS} runs",
        bytes.len()
    );
    println!("  parse + resolve alpine-base : {:7.2} ms", ms(r));
    println!("    of which reading the index: {:7.2} ms", ms(p));
    println!("  flate2 inflate only         : {:7.2} ms", ms(i));
    println!("  gunzip -c > /dev/null       : {:7.2} ms", ms(g));
    println!(
        "  ratio parse+resolve / gunzip: {:7.2} (goal <= 3)",
        r.as_secs_f64() / g.as_secs_f64()
    );
    // One row of benches/run.sh's table.
    if let Some(rows) = std::env::var_os("BENCH_ROWS") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(rows)
            .unwrap();
        writeln!(
            f,
            "APK: parse Alpine 3.16 index + resolve alpine-base|{:.2} ms|gunzip {:.2} ms|{:.2}|<= 3",
            ms(r),
            ms(g),
            r.as_secs_f64() / g.as_secs_f64()
        )
        .unwrap();
    }
}
