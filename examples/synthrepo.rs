//! Builds a synthetic signed repository for benchmarks (`benches/build.sh`): a `base` package
//! and COUNT packages depending on it, each with a ~300 KiB executable-like file and a few text
//! files (about 40 MB installed in all), all deterministic; writes `apko.yaml` installing
//! every package. `--big-files MIB` makes each executable MIB MiB instead (100 packages of
//! 20 MiB: a 2 GB tree, for the memory benchmark).
//!
//! ```sh
//! openssl genrsa -out /tmp/bench.rsa 2048
//! cargo run --release --example synthrepo -- /tmp/bench.rsa x86_64 100 /tmp/synth
//! cargo run --release --example synthrepo -- /tmp/bench.rsa x86_64 100 /tmp/synth2g --big-files 20
//! ```

use apko::apk::mkrepo::{FileSpec, PackageSpec, load_private_key, public_pem, write_repo};
use std::path::PathBuf;
use std::process::ExitCode;

const KEY_NAME: &str = "synth.rsa.pub";
const BUILD_TIME: u64 = 1_735_689_600;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (key, arch, count, out, big) = match args.as_slice() {
        [key, arch, count, out] => (key, arch, count, out, None),
        [key, arch, count, out, flag, mib] if flag == "--big-files" => {
            (key, arch, count, out, Some(mib))
        }
        _ => {
            eprintln!("usage: synthrepo PRIVATE_KEY.pem APK_ARCH COUNT OUT_DIR [--big-files MIB]");
            return ExitCode::from(2);
        }
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("synthrepo: COUNT must be a number");
        return ExitCode::from(2);
    };
    let binary_size = match big.map(|m| m.parse::<usize>()) {
        None => 300 * 1024,
        Some(Ok(mib)) if mib > 0 => mib << 20,
        Some(_) => {
            eprintln!("synthrepo: --big-files takes a number of MiB");
            return ExitCode::from(2);
        }
    };
    match run(key.into(), arch, count, out.into(), binary_size) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synthrepo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// xorshift64*: the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Bytes that compress about as well as compiled code: runs of symbols and tables of
/// words among noise.
fn binary(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 8] = [
        b"__libc_start_main",
        b"GLIBC_2.34",
        b"malloc",
        b"\x48\x89\xe5\x48\x83\xec",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
        b"memcpy@plt",
        b"\xff\x25\x00\x00",
        b".text.unlikely",
    ];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let r = rng.next();
        if r.is_multiple_of(3) {
            out.extend_from_slice(&r.to_le_bytes()[..(r >> 8) as usize % 8 + 1]);
        } else {
            out.extend_from_slice(WORDS[(r >> 16) as usize % WORDS.len()]);
        }
    }
    out.truncate(len);
    out
}

fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "the",
        "package",
        "installs",
        "config",
        "value",
        "option",
        "enable",
        "# comment",
        "path=/usr/lib",
        "true",
        "false",
        "\n",
    ];
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.push_str(WORDS[rng.next() as usize % WORDS.len()]);
        out.push(' ');
    }
    out.truncate(len);
    out.into_bytes()
}

fn run(
    key: PathBuf,
    arch: &str,
    count: usize,
    out: PathBuf,
    binary_size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let key = load_private_key(&key)?;
    let base = PackageSpec {
        arch: arch.into(),
        license: "MIT".into(),
        version: "1.0-r0".into(),
        build_time: BUILD_TIME,
        ..PackageSpec::default()
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut packages = vec![PackageSpec {
        name: "base".into(),
        description: "base directories".into(),
        files: vec![
            FileSpec::Dir("etc".into(), 0o755),
            FileSpec::File("etc/os-release".into(), b"ID=synth\n".to_vec(), 0o644),
            FileSpec::Dir("usr".into(), 0o755),
            FileSpec::Dir("usr/bin".into(), 0o755),
            FileSpec::Dir("usr/share".into(), 0o755),
        ],
        ..base.clone()
    }];
    for i in 0..count {
        let name = format!("pkg{i:03}");
        let mut files = vec![
            FileSpec::File(
                format!("usr/bin/{name}"),
                binary(&mut rng, binary_size),
                0o755,
            ),
            FileSpec::Dir(format!("usr/share/{name}"), 0o755),
        ];
        for j in 0..4 {
            files.push(FileSpec::File(
                format!("usr/share/{name}/doc{j}.txt"),
                text(&mut rng, 24 * 1024),
                0o644,
            ));
        }
        packages.push(PackageSpec {
            name: name.clone(),
            description: format!("synthetic package {i}"),
            depends: vec!["base".into()],
            files,
            ..base.clone()
        });
    }
    write_repo(&out.join("repo"), arch, &packages, &key, KEY_NAME)?;
    std::fs::write(out.join(KEY_NAME), public_pem(&key))?;
    let mut yaml = format!(
        "contents:\n  keyring:\n    - ./{KEY_NAME}\n  repositories:\n    - ./repo\n  packages:\n"
    );
    for p in &packages {
        yaml.push_str(&format!("    - {}\n", p.name));
    }
    yaml.push_str(&format!("archs:\n  - {arch}\n"));
    std::fs::write(out.join("apko.yaml"), yaml)?;
    Ok(())
}
